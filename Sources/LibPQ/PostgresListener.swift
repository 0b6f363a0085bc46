import CLibPQ
import Foundation
import Logging
import Synchronization

/// A `NOTIFY` received on a channel this process listens to.
public struct PostgresNotification: Sendable, Equatable {
    public var channel: String
    public var payload: String
    /// The server process that sent it.
    public var senderPID: Int32
}

/// What a ``PostgresListener`` delivers.
public enum ListenerEvent: Sendable, Equatable {
    case notification(PostgresNotification)
    /// The connection was lost and is listening again; notifications sent meanwhile are lost,
    /// so a consumer should re-read whatever it was waiting for.
    case reconnected
}

/// `LISTEN` on a dedicated connection, delivered as an `AsyncSequence`.
///
/// The connection lives on its own thread, which waits on the socket with `poll` and turns
/// each notification into an element. When the connection breaks it reconnects (every
/// `reconnectDelay`) and yields ``ListenerEvent/reconnected``. The connection is closed by
/// ``stop()``, by cancelling the consuming task, or when neither the listener nor an iterator
/// of it is referenced any more.
public struct PostgresListener: AsyncSequence, Sendable {
    public typealias Element = ListenerEvent
    private let stream: AsyncThrowingStream<ListenerEvent, any Error>
    private let lifetime: ListenerLifetime

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncThrowingStream<ListenerEvent, any Error>.AsyncIterator
        let lifetime: ListenerLifetime

        public mutating func next() async throws -> ListenerEvent? {
            try await base.next()
        }
    }

    /// Stops listening and closes the connection; iteration then ends.
    public func stop() {
        lifetime.control.stop()
    }

    /// Connects and runs `LISTEN` for each channel; returns once the server confirmed them,
    /// so a `NOTIFY` sent after this returns is never missed.
    public static func listen(
        configuration: ConnectionConfiguration, channels: [String], reconnectDelay: Duration = .seconds(1)
    ) async throws -> PostgresListener {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: ListenerEvent.self)
        let control = ListenerControl()
        continuation.onTermination = { _ in control.stop() }
        try await withCheckedThrowingContinuation { (ready: CheckedContinuation<Void, any Error>) in
            let thread = Thread {
                let connection: Connection
                do {
                    connection = try openListening(configuration, channels)
                } catch {
                    ready.resume(throwing: error)
                    continuation.finish(throwing: error)
                    return
                }
                ready.resume()
                run(connection, configuration, channels, reconnectDelay, control, continuation)
            }
            thread.name = "folio-listen"
            thread.start()
        }
        return PostgresListener(stream: stream, lifetime: ListenerLifetime(control: control))
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: stream.makeAsyncIterator(), lifetime: lifetime)
    }

    private static func openListening(_ configuration: ConnectionConfiguration, _ channels: [String]) throws -> Connection {
        let connection = try Connection(configuration: configuration)
        for channel in channels {
            try connection.execute("LISTEN \(quoteIdentifier(channel))")
        }
        return connection
    }

    private static func run(
        _ first: Connection, _ configuration: ConnectionConfiguration, _ channels: [String],
        _ reconnectDelay: Duration, _ control: ListenerControl,
        _ continuation: AsyncThrowingStream<ListenerEvent, any Error>.Continuation
    ) {
        var current: Connection? = first
        let logger = configuration.logger
        while !control.isStopped {
            guard let connection = current else {
                Thread.sleep(forTimeInterval: Double(reconnectDelay.components.seconds) + Double(reconnectDelay.components.attoseconds) / 1e18)
                if control.isStopped { break }
                do {
                    current = try openListening(configuration, channels)
                    logger.info("LISTEN connection re-established", metadata: ["channels": "\(channels)"])
                    continuation.yield(.reconnected)
                } catch {
                    logger.debug("LISTEN reconnect failed: \(error)")
                }
                continue
            }
            var descriptor = pollfd(fd: PQsocket(connection.handle), events: Int16(POLLIN), revents: 0)
            // Wake up at least every 250 ms to notice that the consumer went away.
            let ready = poll(&descriptor, 1, 250)
            if ready > 0 {
                if PQconsumeInput(connection.handle) == 0 || !connection.isHealthy {
                    logger.warning("LISTEN connection lost: \(connection.connectionError())")
                    current = nil
                    continue
                }
            }
            while let notify = PQnotifies(connection.handle) {
                let notification = PostgresNotification(
                    channel: String(cString: notify.pointee.relname),
                    payload: String(cString: notify.pointee.extra),
                    senderPID: notify.pointee.be_pid)
                PQfreemem(notify)
                continuation.yield(.notification(notification))
            }
        }
        continuation.finish()
    }
}

/// Stops the listening thread when the last listener or iterator referencing it goes away.
final class ListenerLifetime: Sendable {
    let control: ListenerControl
    init(control: ListenerControl) { self.control = control }
    deinit { control.stop() }
}

/// The stop flag shared between the listening thread and the stream's termination handler.
final class ListenerControl: Sendable {
    private let stopped = Mutex(false)
    var isStopped: Bool { stopped.withLock { $0 } }
    func stop() { stopped.withLock { $0 = true } }
}
