import CLibPQ
import Synchronization

/// Cancels the statement running on a connection, from any thread.
///
/// libpq's `PQcancel` is documented as safe to call from another thread (even a signal
/// handler); the handle is kept behind a `Mutex` so that it is never freed while a cancel is
/// being sent. A handle is *armed* only while its connection is leased by someone, so a
/// late cancel can never hit the next user of a pooled connection.
public final class CancelHandle: Sendable {
    private struct State {
        /// The `PGcancel*`, kept as its address so the state is plain data; it is turned back
        /// into a pointer only under the lock.
        var cancelAddress: UInt
        var armed: Bool

        var cancel: OpaquePointer? { OpaquePointer(bitPattern: cancelAddress) }
    }

    private let state: Mutex<State>

    init(connection: OpaquePointer) {
        let address = UInt(bitPattern: PQgetCancel(connection))
        state = Mutex(State(cancelAddress: address, armed: true))
    }

    deinit {
        state.withLock { state in
            if let cancel = state.cancel { PQfreeCancel(cancel) }
            state.cancelAddress = 0
        }
    }

    /// Asks the server to cancel the statement now running, if the handle is armed.
    /// Returns whether a cancel request was delivered.
    @discardableResult
    public func cancel() -> Bool {
        state.withLock { state in
            guard state.armed, let cancel = state.cancel else { return false }
            var buffer = [CChar](repeating: 0, count: 256)
            return PQcancel(cancel, &buffer, Int32(buffer.count)) == 1
        }
    }

    /// Allows or forbids cancels; waits for a cancel in flight to finish.
    func setArmed(_ armed: Bool) {
        state.withLock { $0.armed = armed }
    }
}
