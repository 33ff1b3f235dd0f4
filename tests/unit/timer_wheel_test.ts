import assert from "node:assert/strict";
import { Timer, TimerWheel } from "../../core/timer_wheel.ts";
import { SeededRandom } from "../../core/random.ts";

/** A wheel plus a log of which timer fired at which advance() time. */
function harness(opts?: ConstructorParameters<typeof TimerWheel>[0]) {
  const wheel = new TimerWheel(opts);
  const log: { id: number; deadline: number; now: number }[] = [];
  let now = opts?.startMs ?? 0;
  const make = (id: number, onFire?: (t: Timer) => void): Timer => {
    const t: Timer = new Timer(() => {
      log.push({ id, deadline: t.deadlineMs, now });
      onFire?.(t);
    });
    return t;
  };
  const advance = (to: number): number => {
    now = to;
    return wheel.advance(to);
  };
  return { wheel, log, make, advance };
}

Deno.test("timer wheel: fires in deadline order, never early", () => {
  const { wheel, log, make, advance } = harness();
  const deadlines = [50, 3, 3.5, 4000, 4096, 4097, 9000, 1, 0, 123456];
  deadlines.forEach((d, i) => wheel.schedule(make(i), d));
  assert.deepEqual(wheel.size, deadlines.length);
  assert.deepEqual(wheel.nextDeadlineMs(), 0);
  assert.deepEqual(advance(0.99), 1); // only deadline 0
  assert.deepEqual(advance(3.4), 2); // 1 and 3
  assert.deepEqual(advance(3.49), 0); // 3.5 is in slot 3 but must not fire early
  assert.deepEqual(advance(200000), 7);
  assert.deepEqual(log.map((e) => e.deadline), [0, 1, 3, 3.5, 50, 4000, 4096, 4097, 9000, 123456]);
  for (const e of log) assert(e.deadline <= e.now);
  assert.deepEqual(wheel.size, 0);
  assert.deepEqual(wheel.nextDeadlineMs(), Infinity);
});

Deno.test("timer wheel: coarse slots keep FIFO within a slot and exact deadlines", () => {
  const { wheel, log, make, advance } = harness({ slotMs: 10 });
  wheel.schedule(make(1), 15);
  wheel.schedule(make(2), 11);
  wheel.schedule(make(3), 25);
  assert.deepEqual(wheel.nextDeadlineMs(), 11);
  assert.deepEqual(advance(12), 1); // id 2 (11) fires; id 1 (15) shares the slot but is not due
  assert.deepEqual(advance(15), 1);
  assert.deepEqual(advance(30), 1);
  assert.deepEqual(log.map((e) => e.id), [2, 1, 3]);
});

Deno.test("timer wheel: schedule re-arms, cancel disarms, both are idempotent", () => {
  const { wheel, log, make, advance } = harness();
  const a = make(1);
  assert.deepEqual(a.armed, false);
  wheel.cancel(a); // not armed: no-op
  wheel.schedule(a, 10);
  wheel.schedule(a, 20); // moved
  assert.deepEqual(wheel.size, 1);
  assert.deepEqual(a.deadlineMs, 20);
  assert.deepEqual(wheel.nextDeadlineMs(), 20);
  assert.deepEqual(advance(15), 0);
  wheel.cancel(a);
  wheel.cancel(a);
  assert.deepEqual(a.armed, false);
  assert.deepEqual(wheel.size, 0);
  assert.deepEqual(advance(100), 0);
  wheel.schedule(a, 50); // in the past: fires at the next advance
  assert.deepEqual(advance(100), 1);
  assert.deepEqual(log.length, 1);
  assert.deepEqual(a.armed, false);
});

Deno.test("timer wheel: callbacks may cancel and re-arm others in the same slot", () => {
  const { wheel, log, make, advance } = harness();
  const b = make(2);
  const c = make(3);
  const a = make(1, () => {
    wheel.cancel(b); // b is on the list being fired
    wheel.schedule(c, 7); // c moves later
  });
  wheel.schedule(a, 5);
  wheel.schedule(b, 5);
  wheel.schedule(c, 5);
  assert.deepEqual(advance(5), 1);
  assert.deepEqual(log.map((e) => e.id), [1]);
  assert.deepEqual(b.armed, false);
  assert.deepEqual(wheel.nextDeadlineMs(), 7);
  assert.deepEqual(advance(7), 1);
  assert.deepEqual(log.map((e) => e.id), [1, 3]);
});

Deno.test("timer wheel: a callback re-arming itself for 'now' fires in the next advance", () => {
  const { wheel, log, make, advance } = harness();
  let count = 0;
  const t = make(1, (self) => {
    if (++count < 5) wheel.schedule(self, 0); // due already
  });
  wheel.schedule(t, 10);
  assert.deepEqual(advance(10), 1);
  assert.deepEqual(t.armed, true);
  assert(wheel.nextDeadlineMs() <= 10);
  assert.deepEqual(advance(10), 1);
  assert.deepEqual(advance(10), 1);
  assert.deepEqual(advance(11), 1);
  assert.deepEqual(advance(11), 1);
  assert.deepEqual(advance(11), 0);
  assert.deepEqual(log.length, 5);
});

Deno.test("timer wheel: a timer armed by a callback for a later tick of the same advance waits", () => {
  const { wheel, log, make, advance } = harness();
  const late = make(2);
  const first = make(1, () => wheel.schedule(late, 30)); // ≤ now (100) but armed mid-advance
  const mid = make(3);
  wheel.schedule(first, 10);
  wheel.schedule(mid, 60);
  assert.deepEqual(advance(100), 2);
  assert.deepEqual(log.map((e) => e.id), [1, 3]);
  assert.deepEqual(wheel.nextDeadlineMs(), 30);
  assert.deepEqual(advance(100), 1);
  assert.deepEqual(log.map((e) => e.id), [1, 3, 2]);
});

Deno.test("timer wheel: far-future deadlines (hours, days) and huge jumps", () => {
  const { wheel, log, make, advance } = harness();
  const hour = 3_600_000;
  const deadlines = [2 * hour, 7 * hour + 1, 30 * 24 * hour, 5 * hour, 4.6 * hour, 1000];
  deadlines.forEach((d, i) => wheel.schedule(make(i), d));
  assert.deepEqual(wheel.nextDeadlineMs(), 1000);
  assert.deepEqual(advance(1000), 1);
  assert.deepEqual(wheel.nextDeadlineMs(), 2 * hour);
  assert.deepEqual(advance(2 * hour - 1), 0);
  assert.deepEqual(advance(2 * hour), 1);
  assert.deepEqual(wheel.nextDeadlineMs(), 4.6 * hour);
  const t0 = performance.now();
  assert.deepEqual(advance(10 * hour), 3); // 4.6 h, 5 h, 7 h + 1 ms in order
  assert.deepEqual(wheel.nextDeadlineMs(), 30 * 24 * hour);
  assert.deepEqual(advance(30 * 24 * hour - 0.5), 0);
  assert.deepEqual(advance(365 * 24 * hour), 1);
  assert(performance.now() - t0 < 500, "jumps must skip idle time, not walk it");
  assert.deepEqual(log.map((e) => e.deadline), [...deadlines].sort((x, y) => x - y));
  for (const e of log) assert(e.deadline <= e.now);
});

Deno.test("timer wheel: epoch-sized times and a non-zero start", () => {
  const start = 1_764_000_000_000.25;
  const { wheel, log, make, advance } = harness({ startMs: start });
  wheel.schedule(make(1), start + 200);
  wheel.schedule(make(2), start + 86_400_000);
  wheel.schedule(make(3), start - 5); // already overdue
  assert.deepEqual(wheel.nextDeadlineMs(), start - 5);
  assert.deepEqual(advance(start), 1);
  assert.deepEqual(advance(start + 199.9), 0);
  assert.deepEqual(advance(start + 200), 1);
  assert.deepEqual(advance(start + 86_400_000), 1);
  assert.deepEqual(log.map((e) => e.id), [3, 1, 2]);
});

Deno.test("timer wheel: 100k timers fire on time, each exactly once", () => {
  const { wheel, log, make, advance } = harness();
  const rng = new SeededRandom(7);
  const n = 100_000;
  const timers: Timer[] = [];
  for (let i = 0; i < n; i++) {
    const t = make(i);
    timers.push(t);
    wheel.schedule(t, rng.nextFloat() * 600_000); // within 10 minutes
  }
  // cancel every tenth
  for (let i = 0; i < n; i += 10) wheel.cancel(timers[i]);
  assert.deepEqual(wheel.size, n - n / 10);
  let prev = -1;
  for (let now = 0; now <= 600_000; now += 37) {
    advance(now);
    prev = now;
  }
  advance(600_001);
  assert.deepEqual(log.length, n - n / 10);
  const seen = new Set<number>();
  let lastDeadlineTick = -1;
  for (const e of log) {
    assert(e.id % 10 !== 0, "a cancelled timer fired");
    assert(!seen.has(e.id), "a timer fired twice");
    seen.add(e.id);
    assert(e.deadline <= e.now, "fired early");
    assert(e.now === 600_001 || e.deadline > e.now - 37, "fired late");
    const tick = Math.floor(e.deadline);
    assert(tick >= lastDeadlineTick, "out of order");
    lastDeadlineTick = tick;
  }
  assert(prev > 0);
  assert.deepEqual(wheel.size, 0);
});

Deno.test("timer wheel: a throwing callback leaves the wheel consistent", () => {
  const { wheel, log, make, advance } = harness();
  const bad = new Timer(() => {
    throw new Error("boom");
  });
  wheel.schedule(make(1), 5);
  wheel.schedule(bad, 5);
  wheel.schedule(make(2), 5);
  wheel.schedule(make(3), 50);
  assert.throws(() => advance(100), /boom/);
  assert.deepEqual(wheel.size, 2);
  assert.deepEqual(advance(100), 2);
  assert.deepEqual(log.map((e) => e.id), [1, 2, 3]);
  assert.deepEqual(wheel.size, 0);
});

Deno.test("timer wheel: rejects bad options, NaN deadlines and reentrant advance", () => {
  assert.throws(() => new TimerWheel({ slots: 1000 }), RangeError);
  assert.throws(() => new TimerWheel({ slotMs: 0 }), RangeError);
  const wheel = new TimerWheel();
  assert.throws(() => wheel.schedule(new Timer(() => {}), NaN), RangeError);
  const reenter = new Timer(() => wheel.advance(10));
  wheel.schedule(reenter, 1);
  assert.throws(() => wheel.advance(5), /reentrant/);
});

Deno.test("timer wheel: a timer moved between two wheels is armed in one only", () => {
  const w1 = new TimerWheel();
  const w2 = new TimerWheel();
  let fired = 0;
  const t = new Timer(() => fired++);
  w1.schedule(t, 5);
  w2.schedule(t, 6);
  assert.deepEqual(w1.size, 0);
  assert.deepEqual(w2.size, 1);
  w1.cancel(t); // forwarded to the wheel holding it
  assert.deepEqual(w2.size, 0);
  assert.deepEqual(w2.advance(10) + w1.advance(10), 0);
  assert.deepEqual(fired, 0);
});

/**
 * Random operations checked against a plain model: never early, never late, FIFO-by-slot
 * order, callbacks that cancel/re-arm, exact nextDeadlineMs and size after every step.
 */
for (
  const cfg of [
    { slots: 2, slotMs: 1 },
    { slots: 4, slotMs: 0.5 },
    { slots: 8, slotMs: 10 },
    { slots: 64, slotMs: 1 },
    { slots: 4096, slotMs: 1 },
  ]
) {
  Deno.test(`timer wheel: model check slots=${cfg.slots} slotMs=${cfg.slotMs}`, () => {
    const rng = new SeededRandom(cfg.slots * 1000 + cfg.slotMs * 10);
    const wheel = new TimerWheel({ ...cfg, startMs: 3 });
    const count = 200;
    const model = new Map<Timer, number>(); // armed timer -> deadline
    const touched = new Set<Timer>(); // armed during the current advance()
    const timers: Timer[] = [];
    let now = 3;
    let prevNow = 3;
    let inAdvance = false;
    let lastEffTick = -Infinity;
    const tickOf = (ms: number): number => Math.floor((ms - 3) / cfg.slotMs);

    const randomDeadline = (): number => {
      const r = rng.nextInt(6);
      const span = cfg.slots * cfg.slotMs;
      if (r === 0) return now - rng.nextFloat() * 50; // overdue
      if (r === 1) return now + rng.nextFloat() * span; // this block-ish
      if (r === 2) return now + rng.nextFloat() * span * span; // level 1
      if (r === 3) return now + rng.nextFloat() * span * span * 5; // overflow
      if (r === 4) return now + rng.nextInt(20) * cfg.slotMs; // slot boundaries
      return now + rng.nextFloat() * 30;
    };
    const arm = (t: Timer, d: number): void => {
      wheel.schedule(t, d);
      model.set(t, d);
      if (inAdvance) touched.add(t);
    };
    const disarm = (t: Timer): void => {
      wheel.cancel(t);
      model.delete(t);
      if (inAdvance) touched.add(t);
    };
    for (let i = 0; i < count; i++) {
      const t: Timer = new Timer(() => {
        assert(inAdvance);
        assert(model.has(t), "fired while not armed");
        const d = model.get(t)!;
        assert(d <= now, "fired early");
        assert(!touched.has(t), "fired in the advance() that armed it");
        const eff = Math.max(tickOf(d), tickOf(prevNow));
        assert(eff >= lastEffTick, "fired out of slot order");
        lastEffTick = eff;
        model.delete(t);
        assert.deepEqual(t.armed, false);
        // callbacks do things
        const action = rng.nextInt(8);
        if (action === 0) arm(t, now); // due again: must wait for next advance
        else if (action === 1) arm(timers[rng.nextInt(count)], randomDeadline());
        else if (action === 2) disarm(timers[rng.nextInt(count)]);
        else if (action === 3) arm(t, now + rng.nextFloat() * 20);
      });
      timers.push(t);
    }

    for (let step = 0; step < 4000; step++) {
      const op = rng.nextInt(10);
      if (op < 4) arm(timers[rng.nextInt(count)], randomDeadline());
      else if (op < 5) disarm(timers[rng.nextInt(count)]);
      else {
        const r = rng.nextInt(10);
        const delta = r < 6
          ? rng.nextFloat() * 5 * cfg.slotMs
          : r < 9
          ? rng.nextFloat() * cfg.slots * cfg.slots * cfg.slotMs
          : rng.nextFloat() * 1e7;
        prevNow = now;
        now += delta;
        inAdvance = true;
        touched.clear();
        lastEffTick = -Infinity;
        const dueBefore = [...model].filter(([, d]) => d <= now).length;
        const fired = wheel.advance(now);
        inAdvance = false;
        assert(fired <= dueBefore + count);
        for (const [t, d] of model) {
          if (d <= now) assert(touched.has(t), "a due timer was not fired");
        }
      }
      assert.deepEqual(wheel.size, model.size);
      let min = Infinity;
      for (const d of model.values()) if (d < min) min = d;
      assert.deepEqual(wheel.nextDeadlineMs(), min);
      for (const t of timers) {
        assert.deepEqual(t.armed, model.has(t));
        if (t.armed) assert.deepEqual(t.deadlineMs, model.get(t));
      }
    }
  });
}
