/// Polls a condition until it holds: for tests that wait on another task, process or server.
///
/// The timeout only bounds a hang; nothing here is a timing claim. On a two-core machine every
/// suite starts at once, and a test can wait tens of seconds for a cooperative thread while
/// clusters start and CPU-bound tests run, so waits are bounded by time, generously, rather
/// than by a count of short sleeps.
public enum Eventually {
    /// Whether `condition` held within `timeout` (it is asked once more at the deadline).
    @discardableResult
    public static func poll(
        timeout: Duration = .seconds(90), every interval: Duration = .milliseconds(20), _ condition: () async throws -> Bool
    ) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: interval)
        }
        return try await condition()
    }
}
