/**
 * What ran on the machine during one phase of `bench/flood.ts`: the whole machine's CPU by
 * `/proc/stat` column, each watched process's CPU (all its threads) and run-queue wait (the
 * second field of `/proc/PID/task/TID/schedstat`: time runnable but not running), its system
 * time alone (`sysCpu`: the kernel work its syscalls do), the server's CPU by thread name
 * (`serverThreads`) and context switches per second (`serverSwitchesPerS`: voluntary — a
 * blocking wait — and preempted), ksoftirqd's,
 * the CPU of the children this process reaped (the curl downloads), and NET_RX softirqs per
 * second. CPU figures are % of one CPU, waits ms per second.
 *
 * @module
 */

import { clockTicksPerSecond, splitTaskStat } from "../cli/uperf_threads.ts";
import { machineCpu, machineTicks } from "./run_contention.ts";

const HZ = clockTicksPerSecond();

/** CPU ticks (user + system; system alone) and run-queue wait ns of a process, its threads summed. */
interface ProcSample {
  ticks: number;
  sysTicks: number;
  waitNs: number;
  runNs: number;
  /** Context switches, voluntary (a wait: blocking poll, sleep) and not (preempted). */
  volSwitches: number;
  nonvolSwitches: number;
  /** Ticks by thread name (threads of one name summed). */
  byThread?: Map<string, number>;
}

/** Sum of a process's threads (zeros once it is gone). */
async function procSample(pid: number): Promise<ProcSample> {
  const out = {
    ticks: 0,
    sysTicks: 0,
    waitNs: 0,
    runNs: 0,
    volSwitches: 0,
    nonvolSwitches: 0,
    byThread: new Map<string, number>(),
  };
  try {
    for await (const e of Deno.readDir(`/proc/${pid}/task`)) {
      try {
        const st = splitTaskStat(await Deno.readTextFile(`/proc/${pid}/task/${e.name}/stat`));
        if (st !== null) {
          out.ticks += Number(st.rest[11]) + Number(st.rest[12]);
          out.sysTicks += Number(st.rest[12]);
          const t = Number(st.rest[11]) + Number(st.rest[12]);
          out.byThread.set(st.name, (out.byThread.get(st.name) ?? 0) + t);
        }
        const ss = (await Deno.readTextFile(`/proc/${pid}/task/${e.name}/schedstat`)).split(" ");
        out.runNs += Number(ss[0]);
        out.waitNs += Number(ss[1]);
        const status = await Deno.readTextFile(`/proc/${pid}/task/${e.name}/status`);
        out.volSwitches += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
        out.nonvolSwitches += Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? 0);
      } catch { /* the thread ended */ }
    }
  } catch { /* the process ended */ }
  return out;
}

/** Reaped children's user + system ticks of this process (`cutime` + `cstime`). */
async function childTicks(): Promise<number> {
  const st = splitTaskStat(await Deno.readTextFile("/proc/self/stat"));
  return st === null ? 0 : Number(st.rest[13]) + Number(st.rest[14]);
}

/** NET_RX softirqs so far, all CPUs. */
async function netRx(): Promise<number> {
  const line = (await Deno.readTextFile("/proc/softirqs")).split("\n")
    .find((l) => l.trim().startsWith("NET_RX:"));
  if (line === undefined) return 0;
  return line.trim().split(/\s+/).slice(1).reduce((a, b) => a + Number(b), 0);
}

/** The pids of the ksoftirqd threads. */
async function ksoftirqds(): Promise<number[]> {
  const out: number[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const comm = await Deno.readTextFile(`/proc/${e.name}/comm`);
      if (comm.startsWith("ksoftirqd/")) out.push(Number(e.name));
    } catch { /* gone */ }
  }
  return out;
}

/**
 * Samples at a phase's start and end. `pids` names the processes to watch (read at each
 * sample: a flooder that starts later is watched from the first sample that has it).
 *
 * @example
 * ```ts ignore
 * const w = new PhaseWatch(() => ({ server: serve.pid }));
 * await w.start();
 * // … the phase …
 * const record = await w.stop();
 * ```
 */
export class PhaseWatch {
  readonly #pids: () => Record<string, number | undefined>;
  #t0 = 0;
  #machine: number[] = [];
  #procs = new Map<string, ProcSample>();
  #children = 0;
  #netRx = 0;
  #ksoft: number[] = [];

  /** Watch the processes `pids` returns (by label). */
  constructor(pids: () => Record<string, number | undefined>) {
    this.#pids = pids;
  }

  async #sampleProcs(): Promise<Map<string, ProcSample>> {
    const m = new Map<string, ProcSample>();
    for (const [label, pid] of Object.entries(this.#pids())) {
      if (pid !== undefined) m.set(label, await procSample(pid));
    }
    const k = { ticks: 0, sysTicks: 0, waitNs: 0, runNs: 0, volSwitches: 0, nonvolSwitches: 0 };
    for (const pid of this.#ksoft) {
      const s = await procSample(pid);
      k.ticks += s.ticks;
      k.sysTicks += s.sysTicks;
      k.waitNs += s.waitNs;
      k.runNs += s.runNs;
    }
    m.set("ksoftirqd", k);
    return m;
  }

  /** The first sample. */
  async start(): Promise<void> {
    if (this.#ksoft.length === 0) this.#ksoft = await ksoftirqds();
    this.#procs = await this.#sampleProcs();
    this.#machine = await machineTicks();
    this.#children = await childTicks();
    this.#netRx = await netRx();
    this.#t0 = performance.now();
  }

  /** The second sample; the record of the window between. */
  async stop(): Promise<Record<string, unknown>> {
    const sec = (performance.now() - this.#t0) / 1000;
    const procs = await this.#sampleProcs();
    const machine = machineCpu(this.#machine, await machineTicks(), sec);
    const curl = Math.round(((await childTicks()) - this.#children) / HZ / sec * 100);
    const softirqNetRxPerS = Math.round(((await netRx()) - this.#netRx) / sec);
    const cpu: Record<string, number> = {};
    const sysCpu: Record<string, number> = {};
    const waitMsPerS: Record<string, number> = {};
    const serverThreads: Record<string, number> = {};
    const switchesPerS: Record<string, number> = {};
    for (const [label, b] of procs) {
      const a = this.#procs.get(label) ??
        { ticks: 0, sysTicks: 0, waitNs: 0, runNs: 0, volSwitches: 0, nonvolSwitches: 0 };
      cpu[label] = Math.round((b.ticks - a.ticks) / HZ / sec * 100);
      sysCpu[label] = Math.round((b.sysTicks - a.sysTicks) / HZ / sec * 100);
      if (label === "server") {
        switchesPerS.voluntary = Math.round((b.volSwitches - a.volSwitches) / sec);
        switchesPerS.preempted = Math.round((b.nonvolSwitches - a.nonvolSwitches) / sec);
        for (const [name, t] of b.byThread ?? []) {
          const pct = Math.round((t - (a.byThread?.get(name) ?? 0)) / HZ / sec * 100);
          if (pct > 0) serverThreads[name] = pct;
        }
      }
      waitMsPerS[label] = Math.round((b.waitNs - a.waitNs) / 1e6 / sec);
    }
    cpu.curl = curl;
    return {
      seconds: Math.round(sec * 100) / 100,
      machine,
      cpu,
      sysCpu,
      serverThreads,
      serverSwitchesPerS: switchesPerS,
      waitMsPerS,
      softirqNetRxPerS,
      load: (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" "),
    };
  }
}
