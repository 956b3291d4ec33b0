/**
 * What a provisioning call did, in order, with how to undo each step: on failure the steps
 * this call took are undone newest first, and the error says what was done and undone.
 */
import { ProvisionError, type ProvisionReason, type ProvisionStep } from './errors';

interface Undo {
  what: string;
  run: () => Promise<unknown>;
}

export class Journal {
  /** What was done, in plain words, in order. */
  readonly actions: string[] = [];
  readonly #undo: Undo[] = [];
  readonly #wipe: Uint8Array[] = [];

  /** Zeroes `buf` when the call ends (a secret's previous value, kept for the undo). */
  wipeLater(buf: Uint8Array): void {
    this.#wipe.push(buf);
  }

  /** Ends the call: zeroes what {@link wipeLater} was given. */
  finish(): void {
    for (const b of this.#wipe.splice(0)) b.fill(0);
  }

  /** Records something done. `undo` (with its description) reverts it on failure. */
  did(action: string, undo?: { what: string; run: () => Promise<unknown> }): void {
    this.actions.push(action);
    if (undo) this.#undo.push(undo);
  }

  /** Undoes every recorded step, newest first; a failing step does not stop the others. */
  async rollback(): Promise<{ rolledBack: string[]; errors: Error[]; left: string[] }> {
    const rolledBack: string[] = [];
    const errors: Error[] = [];
    const left: string[] = [];
    while (this.#undo.length > 0) {
      const u = this.#undo.pop()!;
      try {
        await u.run();
        rolledBack.push(u.what);
      } catch (err) {
        errors.push(err instanceof Error ? err : new Error(String(err)));
        left.push(u.what);
      }
    }
    return { rolledBack, errors, left };
  }

  /** Rolls back, then builds the error for a failed step. */
  async fail(step: ProvisionStep, reason: ProvisionReason, message: string, cause?: unknown): Promise<ProvisionError> {
    const { rolledBack, errors, left } = await this.rollback();
    const tail = left.length ? ` Undoing it failed for: ${left.join('; ')} (see rollbackErrors).` : rolledBack.length ? ` Undone: ${rolledBack.join('; ')}.` : '';
    return new ProvisionError({ step, reason, message: message + tail, cause, actions: [...this.actions], rolledBack, rollbackErrors: errors });
  }
}
