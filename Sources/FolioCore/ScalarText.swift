/// NFC text as an array of Unicode scalars, with its extended grapheme cluster boundaries.
///
/// Positions (SPEC §4) are offsets into `scalars`. Boundaries are those of Swift's `String`
/// (SPEC §9), computed once in O(n), so boundary checks are O(1).
public struct ScalarText: Sendable, Hashable, CustomStringConvertible {
    /// The scalars of the NFC text.
    public let scalars: [Unicode.Scalar]
    /// `flags[i]` tells whether offset `i` (0...count) is a grapheme cluster boundary.
    let flags: [Bool]

    /// Normalizes `text` to NFC and indexes it.
    public init(_ text: String) {
        self.init(nfc: text.nfc)
    }

    /// Indexes text the caller knows to be NFC already (no normalization).
    init(nfc text: String) {
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(text.utf8.count)
        var boundary: [Bool] = [true]
        boundary.reserveCapacity(text.utf8.count + 1)
        for character in text {
            var first = true
            for scalar in character.unicodeScalars {
                if !first { boundary.append(false) }
                scalars.append(scalar)
                first = false
            }
            boundary.append(true)
        }
        self.scalars = scalars
        self.flags = boundary
    }

    /// Text whose boundaries the caller has computed (`TextEdit.apply`).
    init(scalars: [Unicode.Scalar], flags: [Bool]) {
        self.scalars = scalars
        self.flags = flags
    }

    /// The boundary flags of `scalars[range]` segmented on their own (index 0 is `range.lowerBound`).
    static func segment(_ scalars: ArraySlice<Unicode.Scalar>) -> [Bool] {
        var flags: [Bool] = [true]
        flags.reserveCapacity(scalars.count + 1)
        for character in makeString(scalars) {
            let n = character.unicodeScalars.count
            if n > 1 { flags.append(contentsOf: repeatElement(false, count: n - 1)) }
            flags.append(true)
        }
        return flags
    }

    /// The number of scalars.
    public var count: Int { scalars.count }

    /// The text as a `String`.
    public var string: String { Self.makeString(scalars[...]) }

    /// The string of these scalars, encoded straight into UTF-8 (appending scalars to a
    /// `String.UnicodeScalarView` one by one costs several times more).
    static func makeString(_ scalars: ArraySlice<Unicode.Scalar>) -> String {
        String(unsafeUninitializedCapacity: scalars.count * 4) { buffer in
            var count = 0
            for scalar in scalars {
                let value = scalar.value
                if value < 0x80 {
                    buffer[count] = UInt8(value)
                    count += 1
                } else if value < 0x800 {
                    buffer[count] = UInt8(0xC0 | (value >> 6))
                    buffer[count + 1] = UInt8(0x80 | (value & 0x3F))
                    count += 2
                } else if value < 0x10000 {
                    buffer[count] = UInt8(0xE0 | (value >> 12))
                    buffer[count + 1] = UInt8(0x80 | ((value >> 6) & 0x3F))
                    buffer[count + 2] = UInt8(0x80 | (value & 0x3F))
                    count += 3
                } else {
                    buffer[count] = UInt8(0xF0 | (value >> 18))
                    buffer[count + 1] = UInt8(0x80 | ((value >> 12) & 0x3F))
                    buffer[count + 2] = UInt8(0x80 | ((value >> 6) & 0x3F))
                    buffer[count + 3] = UInt8(0x80 | (value & 0x3F))
                    count += 4
                }
            }
            return count
        }
    }

    public var description: String { string }

    /// Whether `offset` is a grapheme cluster boundary (0 and `count` always are).
    public func isBoundary(_ offset: Int) -> Bool {
        offset >= 0 && offset <= scalars.count && flags[offset]
    }

    /// Checks that `offset` lies in `0...count` on a grapheme cluster boundary.
    public func checkBoundary(_ offset: Int) throws(TextError) {
        guard offset >= 0, offset <= scalars.count else {
            throw .positionOutOfRange(position: offset, length: scalars.count)
        }
        guard flags[offset] else {
            throw .splitsGrapheme(position: offset, context: cluster(around: offset))
        }
    }

    /// Checks that `[start, end)` is a range of this text whose ends are cluster boundaries.
    public func checkRange(start: Int, end: Int) throws(TextError) {
        try checkBoundary(start)
        try checkBoundary(end)
        guard start <= end else { throw .invalidRange(start: start, end: end) }
    }

    /// The largest boundary `<= offset` (clamped to the text).
    public func boundary(atOrBefore offset: Int) -> Int {
        var i = min(max(offset, 0), scalars.count)
        while !flags[i] { i -= 1 }
        return i
    }

    /// The smallest boundary `>= offset` (clamped to the text).
    public func boundary(atOrAfter offset: Int) -> Int {
        var i = min(max(offset, 0), scalars.count)
        while !flags[i] { i += 1 }
        return i
    }

    /// The text of the grapheme cluster that contains `offset` (for error messages).
    public func cluster(around offset: Int) -> String {
        let start = boundary(atOrBefore: offset)
        let end = boundary(atOrAfter: offset == start ? offset + 1 : offset)
        return slice(start, end)
    }

    /// The text of `[start, end)` (clamped).
    public func slice(_ start: Int, _ end: Int) -> String {
        let s = min(max(start, 0), scalars.count), e = min(max(end, s), scalars.count)
        return Self.makeString(scalars[s..<e])
    }

    /// The boundary offsets in increasing order.
    public var boundaries: [Int] { flags.indices.filter { flags[$0] } }

    /// The number of grapheme clusters.
    public var graphemeCount: Int { flags.reduce(0) { $0 + ($1 ? 1 : 0) } - 1 }

    /// Code points of `text` as `U+0915 U+093C`, for messages about invisible differences.
    public static func describe(_ text: String) -> String {
        text.unicodeScalars.map { "U+" + String($0.value, radix: 16, uppercase: true).leftPadded(4) }.joined(separator: " ")
    }

    /// Equality of the scalars only.
    public static func == (lhs: ScalarText, rhs: ScalarText) -> Bool { lhs.scalars == rhs.scalars }
    public func hash(into hasher: inout Hasher) { hasher.combine(scalars) }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
