import Foundation

/// Runs blocking work on a thread of its own.
///
/// Swift concurrency has as many cooperative threads as cores (two on this project's
/// machines). A task that blocks one of them in `initdb`, `pg_ctl -w` or a synchronous libpq
/// call holds back every other task of the process meanwhile: in the test suite, where many
/// clusters start at once, server answers were seen to wait 3 to 13 s for a free thread.
/// Work that blocks for long goes through here instead.
public enum DedicatedThread {
    /// Runs `body` on a new thread named `name` and returns (or throws) what it did.
    public static func run<Value: Sendable>(_ name: String, _ body: @escaping @Sendable () throws -> Value) async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result { try body() })
            }
            thread.name = name
            thread.start()
        }
    }
}
