/// A position in the whole log, in read order: `(epoch, transaction id, position)`.
///
/// Clients treat cursors as opaque strings. The encoding (documented in
/// `docs/event-store.md`) is `<epoch>-<transaction id>-<position>` in decimal, e.g.
/// `1-7541-12`; the start of the log is `0-0-0`.
public struct StoreCursor: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var epoch: Int
    public var transactionID: UInt64
    public var position: Int64

    public init(epoch: Int, transactionID: UInt64, position: Int64) {
        self.epoch = epoch
        self.transactionID = transactionID
        self.position = position
    }

    /// Before the first event of every epoch.
    public static let start = StoreCursor(epoch: 0, transactionID: 0, position: 0)

    /// Parses a cursor string; `nil` for anything that is not one.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
            let epoch = Int(parts[0]), let transactionID = UInt64(parts[1]), let position = Int64(parts[2])
        else { return nil }
        self.init(epoch: epoch, transactionID: transactionID, position: position)
    }

    public var description: String { "\(epoch)-\(transactionID)-\(position)" }

    public static func < (lhs: StoreCursor, rhs: StoreCursor) -> Bool {
        (lhs.epoch, lhs.transactionID, lhs.position) < (rhs.epoch, rhs.transactionID, rhs.position)
    }
}
