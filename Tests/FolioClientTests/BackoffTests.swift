import Foundation
import Testing

@testable import FolioClient

/// The reconnect delay of `sync --follow`.
@Suite("Follow backoff")
struct BackoffTests {
    @Test("full jitter under an exponential ceiling (0.5 s … 30 s), never below Retry-After")
    func backoff() {
        for attempt in 1...12 {
            let ceiling = min(30, 0.5 * pow(2, Double(min(attempt, 10))))
            let delays = (0..<50).map { _ in SyncClient.backoff(attempt: attempt, retryAfter: nil) }
            #expect(delays.allSatisfy { $0 >= ceiling / 2 && $0 <= ceiling }, "attempt \(attempt): \(delays)")
            #expect(Set(delays).count > 1, "jittered")
            #expect(SyncClient.backoff(attempt: attempt, retryAfter: 45) >= 45)
        }
    }
}
