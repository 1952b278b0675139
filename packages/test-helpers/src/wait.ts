/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` every 10 ms until it is true; rejects naming `what` once `timeout` ms have passed. */
export async function until(check: () => boolean, timeout = 3000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
