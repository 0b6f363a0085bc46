import FolioStore
import Foundation
import Logging
import Synchronization

/// The newest events of the log, read once and shared by every caught-up live sync stream.
///
/// Without it, each live stream reads the log itself on every commit: 500 streams make 500
/// queries per commit. The tail follows the log with one subscription and keeps the last
/// `capacity` events in memory, in read order, together with the head (the cursor after the
/// last event any reader can see, G4). A stream whose cursor lies inside the window takes its
/// events (filtered by article if asked) from here; one that fell behind the window reads the
/// log itself until it catches up again.
///
/// The tail follows the log only while live streams are open (and for ``linger`` after the last
/// one closed, so reconnecting clients find it warm): with no one listening it would read the
/// log after every commit for nothing.
final class LiveTail: Sendable {
    /// What a stream gets for its cursor.
    enum Answer {
        /// The events after the cursor (possibly none) and the head to resume from.
        case events([RecordedEvent], head: StoreCursor, version: UInt64)
        /// The cursor is older than the window (or the tail is not running): read the log.
        case behind
    }

    private struct State {
        var running = false
        /// Events in read order; `window[0]` is the oldest kept.
        var window: [RecordedEvent] = []
        /// Cursor before the first kept event: the window holds every event after it, up to `head`.
        var start: StoreCursor?
        var head: StoreCursor = .start
        /// Live streams open now.
        var viewers = 0
        /// When the last live stream closed (nil while one is open).
        var idleSince: ContinuousClock.Instant?
    }

    let store: EventStore
    let capacity: Int
    let logger: Logger
    private let state: Mutex<State>
    /// Changes on every publish; caught-up streams wait on it.
    let signal = LogWatcher()
    /// Changes when a live stream opens.
    private let demand = LogWatcher()
    /// How long the tail goes on following after the last live stream closed.
    let linger: Duration

    init(store: EventStore, capacity: Int = 8192, linger: Duration = .seconds(30), logger: Logger) {
        self.store = store
        self.capacity = max(16, capacity)
        self.linger = linger
        self.logger = logger
        // Idle from the start: the first live stream wakes it.
        self.state = Mutex(State(idleSince: .now - linger))
    }

    /// A live stream opened: the tail follows the log (if it did not already).
    func opened() {
        state.withLock { state in
            state.viewers += 1
            state.idleSince = nil
        }
        demand.signal()
    }

    /// A live stream closed.
    func closed() {
        state.withLock { state in
            state.viewers -= 1
            if state.viewers == 0 { state.idleSince = .now }
        }
    }

    /// Whether no live stream has been open for ``linger``.
    private var isIdle: Bool {
        state.withLock { state in state.idleSince.map { ContinuousClock.now - $0 >= linger } ?? false }
    }

    /// Follows the log while live streams are open, until cancelled; on errors it starts again
    /// from its head a second later.
    func run() async {
        while !Task.isCancelled {
            // Wait for a live stream (checking for cancellation every second).
            while !Task.isCancelled, isIdle {
                let version = demand.version
                if !isIdle { break }
                await demand.wait(after: version, timeout: .seconds(1))
            }
            if Task.isCancelled { break }
            do {
                try await follow()
                state.withLock { $0.running = false; $0.start = nil; $0.window = [] }
                wakeAll()
            } catch is CancellationError {
                break
            } catch {
                logger.warning("live tail stopped; starting again", metadata: ["error": "\(error)"])
                state.withLock { $0.running = false; $0.start = nil; $0.window = [] }
                try? await Task.sleep(for: .seconds(1))
            }
        }
        state.withLock { $0.running = false }
        wakeAll()
    }

    private func follow() async throws {
        let head = try await store.head()
        state.withLock { state in
            state.window = []
            state.start = head
            state.head = head
            state.running = true
        }
        var iterator = store.subscribe(after: head, batchSize: 1000).makeAsyncIterator()
        var pending: [RecordedEvent] = []
        while true {
            // Stop following once nobody has listened for a while; waiting for the next event
            // (no commits) costs nothing, so this is checked as events come.
            guard let item = try await iterator.next(), !isIdle else { return }
            switch item {
            case .event(let event):
                pending.append(event)
                if iterator.bufferedCount == 0 {
                    publish(pending, head: event.cursor)
                    pending.removeAll(keepingCapacity: true)
                }
            case .caughtUp(let cursor):
                publish(pending, head: cursor)
                pending.removeAll(keepingCapacity: true)
            }
        }
    }

    private func publish(_ events: [RecordedEvent], head: StoreCursor) {
        state.withLock { state in
            state.window.append(contentsOf: events)
            if state.window.count > capacity {
                let dropped = state.window.count - capacity
                state.start = state.window[dropped - 1].cursor
                state.window.removeFirst(dropped)
            }
            state.head = max(state.head, head)
        }
        signal.signal()
    }

    private func wakeAll() {
        signal.signal()
    }

    /// The events after `cursor` (only those of `articles`, if given), or `.behind`.
    func events(after cursor: StoreCursor, articles: Set<UUID>?) -> Answer {
        state.withLock { state in
            guard state.running, let start = state.start, cursor >= start else { return .behind }
            // First kept event after the cursor (the window is in read order).
            var low = 0, high = state.window.count
            while low < high {
                let middle = (low + high) / 2
                if state.window[middle].cursor > cursor { high = middle } else { low = middle + 1 }
            }
            var found = Array(state.window[low...])
            if let articles { found.removeAll { event in event.articleID.map { !articles.contains($0) } ?? true } }
            return .events(found, head: max(cursor, state.head), version: signal.version)
        }
    }

    /// Waits until the tail changes after `version`, or `timeout` passes.
    func wait(after version: UInt64, timeout: Duration) async {
        await signal.wait(after: version, timeout: timeout)
    }
}
