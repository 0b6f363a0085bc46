import Foundation

/// An edit of a text in the shape of ot.js (SPEC §4): retain, insert, delete, counted in
/// Unicode scalars of NFC text.
///
/// In JSON it is the ot.js array: a positive integer retains that many scalars, a string is
/// inserted, a negative integer deletes that many scalars: `[5, "नया", -3, 10]`.
/// Operations are kept normalized as ot.js does: no zero counts, adjacent operations of one
/// kind merged, and an insert next to a delete always comes first.
public struct TextEdit: Sendable, Hashable, Codable, CustomStringConvertible {
    /// One operation.
    public enum Operation: Sendable, Hashable {
        /// Keep this many scalars.
        case retain(Int)
        /// Insert this text (NFC).
        case insert(String)
        /// Remove this many scalars.
        case delete(Int)
    }

    /// The normalized operations.
    public private(set) var operations: [Operation]
    /// Scalars of the text the edit applies to (retains plus deletes).
    public private(set) var baseLength: Int
    /// Scalars of the text the edit produces (retains plus inserted scalars).
    public private(set) var targetLength: Int

    /// An edit from operations: inserted strings are normalized to NFC, counts must be
    /// positive, inserts non-empty.
    public init(_ operations: [Operation]) throws(EditError) {
        var builder = Builder()
        for (index, operation) in operations.enumerated() {
            switch operation {
            case .retain(let n):
                guard n > 0 else { throw .invalidOperation(index: index, reason: "retain count \(n) is not positive") }
                builder.retain(n)
            case .delete(let n):
                guard n > 0 else { throw .invalidOperation(index: index, reason: "delete count \(n) is not positive") }
                builder.delete(n)
            case .insert(let text):
                guard !text.isEmpty else { throw .invalidOperation(index: index, reason: "empty insert") }
                builder.insert(text.nfc)
            }
        }
        self = builder.edit
    }

    fileprivate init(normalized operations: [Operation], baseLength: Int, targetLength: Int) {
        self.operations = operations
        self.baseLength = baseLength
        self.targetLength = targetLength
    }

    /// The edit that changes nothing in a text of `length` scalars.
    public static func identity(length: Int) -> TextEdit {
        var builder = Builder()
        builder.retain(length)
        return builder.edit
    }

    /// An edit that replaces `[start, end)` of a text of `length` scalars with `text`.
    public static func replacing(start: Int, end: Int, with text: String, length: Int) throws(EditError) -> TextEdit {
        guard 0 <= start, start <= end, end <= length else {
            throw .invalidOperation(index: 0, reason: "range [\(start), \(end)) is not inside 0...\(length)")
        }
        var builder = Builder()
        builder.retain(start)
        builder.insert(text.nfc)
        builder.delete(end - start)
        builder.retain(length - end)
        return builder.edit
    }

    /// Whether the edit changes nothing.
    public var isIdentity: Bool {
        operations.allSatisfy { if case .retain = $0 { return true } else { return false } }
    }

    public var description: String {
        "[" + operations.map { operation -> String in
            switch operation {
            case .retain(let n): return String(n)
            case .delete(let n): return String(-n)
            case .insert(let text): return "\"\(text)\""
            }
        }.joined(separator: ", ") + "]"
    }

    // MARK: Codable (the ot.js array)

    public init(from decoder: any Decoder) throws {
        var container = try decoder.unkeyedContainer()
        var operations: [Operation] = []
        while !container.isAtEnd {
            if let n = try? container.decode(Int.self) {
                guard n != 0 else {
                    throw Self.corrupted(decoder, operations.count, "0 is no operation (use a positive retain or a negative delete)")
                }
                operations.append(n > 0 ? .retain(n) : .delete(-n))
            } else if let text = try? container.decode(String.self) {
                guard !text.isEmpty else {
                    throw Self.corrupted(decoder, operations.count, "an empty insert")
                }
                operations.append(.insert(text))
            } else {
                throw Self.corrupted(decoder, operations.count, "neither an integer nor a string")
            }
        }
        do {
            self = try TextEdit(operations)
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    private struct IndexKey: CodingKey {
        var intValue: Int?
        var stringValue: String { String(intValue ?? 0) }
        init(intValue: Int) { self.intValue = intValue }
        init?(stringValue: String) { nil }
    }

    private static func corrupted(_ decoder: any Decoder, _ index: Int, _ reason: String) -> DecodingError {
        .dataCorrupted(.init(codingPath: decoder.codingPath + [IndexKey(intValue: index)], debugDescription: reason))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.unkeyedContainer()
        for operation in operations {
            switch operation {
            case .retain(let n): try container.encode(n)
            case .delete(let n): try container.encode(-n)
            case .insert(let text): try container.encode(text)
            }
        }
    }

    /// The stable JSON text of the edit (the ot.js array), as `JSONEncoder` writes it.
    ///
    /// Written by hand when no insert needs escaping (no quote, backslash or control
    /// character), which is every edit in practice: the projector writes one per revision and
    /// `JSONEncoder` costs more than the rest of the fold of an edit.
    public var jsonText: String {
        var text = "["
        var first = true
        for operation in operations {
            if !first { text += "," }
            first = false
            switch operation {
            case .retain(let n): text += String(n)
            case .delete(let n): text += String(-n)
            case .insert(let inserted):
                guard !inserted.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) else { return encodedJSONText }
                text += "\""
                text += inserted
                text += "\""
            }
        }
        return text + "]"
    }

    /// `jsonText` by `JSONEncoder`.
    var encodedJSONText: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
    }

    // MARK: Apply

    /// Applies the edit to `text` (normalized to NFC first). See `apply(to:)` on `ScalarText`.
    public func apply(to text: String) throws(EditError) -> String {
        try apply(to: ScalarText(text)).string
    }

    /// Applies the edit to `base`.
    ///
    /// Refused, with the reason: a base length other than `base.count`; a cut (start or end of
    /// a delete, an insert point, the end of a retain) inside a grapheme cluster of `base`; an
    /// insert that is not NFC; and a result whose grapheme clusters are not exactly those of
    /// the pieces it is made from (retained text and inserted strings, each segmented on its
    /// own) — so no edit joins or splits a cluster, e.g. an insert starting with a vowel sign
    /// or nukta after a consonant, or a deletion that leaves a virama before a consonant.
    public func apply(to base: ScalarText) throws(EditError) -> ScalarText {
        try apply(to: base, checkingEveryJunction: false)
    }

    /// `apply(to:)`; with `checkingEveryJunction`, one window per junction (the ends
    /// included), as before the windows were merged (tests compare the two).
    func apply(to base: ScalarText, checkingEveryJunction: Bool) throws(EditError) -> ScalarText {
        guard baseLength == base.count else { throw .lengthMismatch(expected: base.count, actual: baseLength) }
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(targetLength)
        var expected: [Bool] = [true]
        expected.reserveCapacity(targetLength + 1)
        // Result offsets where pieces meet (and where an insert begins or ends).
        var junctions: [Int] = []
        var position = 0
        for operation in operations {
            guard base.isBoundary(position) else {
                throw .splitsGrapheme(position: position, context: base.cluster(around: position))
            }
            switch operation {
            case .retain(let n):
                junctions.append(scalars.count)
                scalars.append(contentsOf: base.scalars[position..<(position + n)])
                expected.append(contentsOf: base.flags[(position + 1)...(position + n)])
                position += n
            case .delete(let n):
                junctions.append(scalars.count)
                position += n
            case .insert(let text):
                guard text.isNFC else { throw .insertNotNFC(text) }
                junctions.append(scalars.count)
                let inserted = ScalarText(nfc: text)
                scalars.append(contentsOf: inserted.scalars)
                expected.append(contentsOf: inserted.flags[1...])
            }
        }
        guard base.isBoundary(position) else {
            throw .splitsGrapheme(position: position, context: base.cluster(around: position))
        }
        junctions.append(scalars.count)
        if checkingEveryJunction {
            try Self.checkEveryJunction(junctions, scalars, expected)
            return ScalarText(scalars: scalars, flags: expected)
        }
        // Grapheme rules look only a few clusters back (regional indicator pairs, emoji ZWJ
        // sequences, conjuncts), so the text can change only near the junctions: segment the
        // windows around them (merged where they overlap, once each) and compare with the
        // pieces' own boundaries. A junction at the start before a retain, or at the end after
        // one, needs no window of its own: a retained prefix or suffix of the base segments as
        // in the base, and the next junction's window covers what is near it.
        let skipFirst: Bool, skipLast: Bool
        if case .retain? = operations.first { skipFirst = true } else { skipFirst = false }
        if case .retain? = operations.last { skipLast = true } else { skipLast = false }
        var merged: (low: Int, high: Int)?
        var previous = -1
        for junction in junctions where junction != previous {
            previous = junction
            if junction == 0 && skipFirst { continue }
            if junction == scalars.count && skipLast && junction != 0 { continue }
            let window = Self.window(around: junction, in: expected, count: scalars.count)
            if let current = merged, window.low < current.high {
                merged = (current.low, max(current.high, window.high))
            } else {
                if let current = merged, !Self.segmentsAsExpected(scalars, expected, current.low, current.high) {
                    try Self.checkEveryJunction(junctions, scalars, expected)
                }
                merged = window
            }
        }
        if let current = merged, !Self.segmentsAsExpected(scalars, expected, current.low, current.high) {
            try Self.checkEveryJunction(junctions, scalars, expected)
        }
        return ScalarText(scalars: scalars, flags: expected)
    }

    /// `[low, high)`: `checkMargin` clusters (by `expected`) on each side of `junction`.
    private static func window(around junction: Int, in expected: [Bool], count: Int) -> (low: Int, high: Int) {
        var low = junction, high = junction, clusters = 0
        while low > 0, clusters < checkMargin {
            low -= 1
            if expected[low] { clusters += 1 }
        }
        clusters = 0
        while high < count, clusters < checkMargin {
            high += 1
            if expected[high] { clusters += 1 }
        }
        return (low, high)
    }

    private static func segmentsAsExpected(_ scalars: [Unicode.Scalar], _ expected: [Bool], _ low: Int, _ high: Int) -> Bool {
        let actual = ScalarText.segment(scalars[low..<high])
        for i in 0...(high - low) where actual[i] != expected[low + i] { return false }
        return true
    }

    /// The check one window per junction (every junction, the ends included), which names
    /// the first place where the result's clusters differ: run when the merged windows found
    /// one, so the error is the same as ever.
    private static func checkEveryJunction(_ junctions: [Int], _ scalars: [Unicode.Scalar], _ expected: [Bool]) throws(EditError) {
        var previous = -1
        for junction in junctions where junction != previous {
            previous = junction
            let (low, high) = window(around: junction, in: expected, count: scalars.count)
            let actual = ScalarText.segment(scalars[low..<high])
            for i in 0...(high - low) where actual[i] != expected[low + i] {
                var view = String.UnicodeScalarView()
                view.append(contentsOf: scalars[max(low, low + i - 4)..<min(high, low + i + 4)])
                throw .changesGraphemes(position: low + i, context: String(view))
            }
        }
    }

    /// Clusters segmented on each side of a junction by `apply`.
    static let checkMargin = 8

    // MARK: Positions

    /// Where `position` of the base text lands in the target text.
    ///
    /// `stickRight`: an insert exactly at `position` moves it to after the inserted text
    /// (used for the start of an annotation); otherwise it stays before (the end). A position
    /// inside deleted text lands where the deletion was.
    public func transformPosition(_ position: Int, stickRight: Bool) -> Int {
        var base = 0, target = 0
        for operation in operations {
            switch operation {
            case .retain(let n):
                if position < base + n { return target + (position - base) }
                base += n
                target += n
            case .insert(let text):
                if base < position || (base == position && stickRight) {
                    target += text.unicodeScalars.count
                } else {
                    return target
                }
            case .delete(let n):
                if position < base + n { return target }
                base += n
            }
        }
        return target + max(0, position - base)
    }
}

/// Builds normalized operation lists as ot.js does.
struct TextEditBuilder {
    private(set) var operations: [TextEdit.Operation] = []
    private(set) var baseLength = 0
    private(set) var targetLength = 0

    mutating func retain(_ n: Int) {
        guard n > 0 else { return }
        baseLength += n
        targetLength += n
        if case .retain(let m) = operations.last {
            operations[operations.count - 1] = .retain(m + n)
        } else {
            operations.append(.retain(n))
        }
    }

    mutating func insert(_ text: String) {
        guard !text.isEmpty else { return }
        targetLength += text.unicodeScalars.count
        let last = operations.count - 1
        if case .insert(let previous) = operations.last {
            operations[last] = .insert(previous + text)
        } else if case .delete = operations.last {
            if last > 0, case .insert(let previous) = operations[last - 1] {
                operations[last - 1] = .insert(previous + text)
            } else {
                operations.insert(.insert(text), at: last)
            }
        } else {
            operations.append(.insert(text))
        }
    }

    mutating func delete(_ n: Int) {
        guard n > 0 else { return }
        baseLength += n
        if case .delete(let m) = operations.last {
            operations[operations.count - 1] = .delete(m + n)
        } else {
            operations.append(.delete(n))
        }
    }

    var edit: TextEdit { TextEdit(normalizedBy: self) }
}

extension TextEdit {
    typealias Builder = TextEditBuilder

    init(normalizedBy builder: TextEditBuilder) {
        self.init(normalized: builder.operations, baseLength: builder.baseLength, targetLength: builder.targetLength)
    }
}
