/**
 * Micro costs of the timer wheel: arming, re-arming (the per-ACK RTO restart), cancelling and
 * advancing with many timers armed. Run with `deno bench bench/timer_wheel_bench.ts`.
 *
 * @module
 */
import { Timer, TimerWheel } from "../core/timer_wheel.ts";
import { SeededRandom } from "../core/random.ts";

const COUNT = 10_000;
const rng = new SeededRandom(1);
let fired = 0;
const onFire = (): void => {
  fired++;
};

function makeTimers(n: number): Timer[] {
  const timers: Timer[] = [];
  for (let i = 0; i < n; i++) timers.push(new Timer(onFire));
  return timers;
}

const offsets = new Float64Array(COUNT);
for (let i = 0; i < COUNT; i++) offsets[i] = 1 + rng.nextFloat() * 3000;

{
  const wheel = new TimerWheel();
  const timers = makeTimers(COUNT);
  Deno.bench(`schedule + cancel ${COUNT} timers (within 3 s)`, { group: "arm" }, () => {
    for (let i = 0; i < COUNT; i++) wheel.schedule(timers[i], offsets[i]);
    for (let i = 0; i < COUNT; i++) wheel.cancel(timers[i]);
  });
}

{
  const wheel = new TimerWheel();
  const timers = makeTimers(COUNT);
  for (let i = 0; i < COUNT; i++) wheel.schedule(timers[i], offsets[i]);
  let k = 0;
  Deno.bench(`re-arm ${COUNT} armed timers (RTO restart on ACK)`, { group: "arm" }, () => {
    k++;
    for (let i = 0; i < COUNT; i++) wheel.schedule(timers[i], offsets[(i + k) % COUNT]);
  });
}

{
  const wheel = new TimerWheel();
  const timers = makeTimers(COUNT);
  const hour = 3_600_000;
  Deno.bench(`schedule + cancel ${COUNT} far timers (2 h keepalive, 30 s TIME-WAIT)`, {
    group: "arm",
  }, () => {
    for (let i = 0; i < COUNT; i++) wheel.schedule(timers[i], i & 1 ? 2 * hour : 30_000);
    for (let i = 0; i < COUNT; i++) wheel.cancel(timers[i]);
  });
}

{
  const timers = makeTimers(COUNT);
  Deno.bench(`fire ${COUNT} timers over 3 s in 1 ms advances`, { group: "advance" }, (b) => {
    const wheel = new TimerWheel();
    for (let i = 0; i < COUNT; i++) wheel.schedule(timers[i], offsets[i]);
    b.start();
    for (let now = 1; now <= 3001; now++) wheel.advance(now);
    b.end();
    if (wheel.size !== 0) throw new Error("not all fired");
  });
}

{
  const wheel = new TimerWheel();
  const timers = makeTimers(COUNT);
  for (let i = 0; i < COUNT; i++) wheel.schedule(timers[i], 10_000_000 + i);
  let now = 0;
  Deno.bench(`advance 1 ms with ${COUNT} idle far timers armed`, { group: "advance" }, () => {
    wheel.advance(++now);
  });
}

{
  const wheel = new TimerWheel();
  const timers = makeTimers(COUNT);
  for (let i = 0; i < COUNT; i++) wheel.schedule(timers[i], offsets[i]);
  let k = 0;
  Deno.bench(`nextDeadlineMs after a cancel (${COUNT} armed)`, { group: "advance" }, () => {
    const t = timers[k++ % COUNT];
    wheel.cancel(t);
    wheel.nextDeadlineMs();
    wheel.schedule(t, offsets[k % COUNT]);
  });
}

globalThis.addEventListener("unload", () => {
  if (fired < 0) console.log(fired); // keep `fired` observable
});
