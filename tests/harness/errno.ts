/**
 * The errno code a stack call throws, for tests that check API misuse.
 *
 * @module
 */

import assert from "node:assert/strict";
import { StackError } from "../../core/errors.ts";

/** The errno code of what `fn` throws (fails if it does not throw a StackError). */
export function errnoOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof StackError, `expected a StackError, got ${e}`);
    return e.code;
  }
  assert.fail("expected an error");
}
