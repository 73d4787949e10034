/**
 * Work that goes on after its request has been answered (mails, so SMTP is never on a request's
 * path). The app's close() waits for it as for running operations, so a shutdown does not cut a
 * registration's verification mail off halfway.
 */
export class BackgroundTasks {
  private readonly running = new Set<Promise<unknown>>();

  /** Tracks `task` until it settles; returns it. The caller handles its failure. */
  track<T>(task: Promise<T>): Promise<T> {
    this.running.add(task);
    void task.then(
      () => this.running.delete(task),
      () => this.running.delete(task),
    );
    return task;
  }

  /** Waits until every tracked task has settled (new ones included), or `timeoutMs` has passed; false on timeout. */
  async settle(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.running.size > 0) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await Promise.race([
        Promise.allSettled(this.running),
        new Promise((resolve) => setTimeout(resolve, left).unref()),
      ]);
    }
    return true;
  }

  get size(): number {
    return this.running.size;
  }
}
