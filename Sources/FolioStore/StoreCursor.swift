/// A position in the whole log, in read order: `(epoch, transaction id, position)`, plus the
/// epoch the cursor was issued in.
///
/// Clients treat cursors as opaque strings. The encoding (documented in
/// `docs/event-store.md`) is `<epoch>-<transaction id>-<position>` in decimal, e.g.
/// `1-7541-12`; the start of the log is `0-0-0`. A cursor issued in a later epoch than the
/// event it points after (a reader in epoch 2 that has read up to an event of epoch 1, before
/// anything was written in epoch 2) is written `<issued>.<epoch>-<transaction id>-<position>`,
/// e.g. `2.1-7541-12`: it stays valid in epoch 2, while every cursor issued in epoch 1 gets
/// must-refetch (G6).
public struct StoreCursor: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Epoch of the event the cursor points after (the first key of the read order).
    public var epoch: Int
    public var transactionID: UInt64
    public var position: Int64
    /// The epoch in which the cursor was issued; it can be honoured only in that epoch.
    public var issuedEpoch: Int

    public init(epoch: Int, transactionID: UInt64, position: Int64, issuedEpoch: Int? = nil) {
        self.epoch = epoch
        self.transactionID = transactionID
        self.position = position
        self.issuedEpoch = issuedEpoch ?? epoch
    }

    /// Before the first event of every epoch.
    public static let start = StoreCursor(epoch: 0, transactionID: 0, position: 0)

    /// Parses a cursor string; `nil` for anything that is not one.
    public init?(_ text: some StringProtocol) {
        var body = Substring(text)
        var issued: Int?
        if let dot = body.firstIndex(of: ".") {
            guard let value = Self.number(body[..<dot]).flatMap({ Int(exactly: $0) }) else { return nil }
            issued = value
            body = body[body.index(after: dot)...]
        }
        let parts = body.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, let epoch = Self.number(parts[0]).flatMap({ Int(exactly: $0) }),
            let transactionID = Self.number(parts[1]), let position = Self.number(parts[2]).flatMap({ Int64(exactly: $0) })
        else { return nil }
        if let issued, issued <= epoch { return nil }
        self.init(epoch: epoch, transactionID: transactionID, position: position, issuedEpoch: issued)
    }

    private static func number(_ text: Substring) -> UInt64? {
        guard !text.isEmpty, text.count <= 20, text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return UInt64(text)
    }

    /// The same position, as a cursor issued in `epoch` (for events of older epochs read now).
    public func issued(in epoch: Int) -> StoreCursor {
        StoreCursor(epoch: self.epoch, transactionID: transactionID, position: position, issuedEpoch: Swift.max(self.epoch, epoch))
    }

    public var description: String {
        issuedEpoch == epoch ? "\(epoch)-\(transactionID)-\(position)" : "\(issuedEpoch).\(epoch)-\(transactionID)-\(position)"
    }

    /// Read order; the issuing epoch does not take part.
    public static func < (lhs: StoreCursor, rhs: StoreCursor) -> Bool {
        (lhs.epoch, lhs.transactionID, lhs.position) < (rhs.epoch, rhs.transactionID, rhs.position)
    }

    public static func == (lhs: StoreCursor, rhs: StoreCursor) -> Bool {
        (lhs.epoch, lhs.transactionID, lhs.position, lhs.issuedEpoch) == (rhs.epoch, rhs.transactionID, rhs.position, rhs.issuedEpoch)
    }
}
