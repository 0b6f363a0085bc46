/// Where an annotation is in the article at some revision (SPEC §4, §9 `anchor`).
public struct Anchor: Sendable, Hashable, Codable {
    /// How the anchor was found.
    public enum Status: String, Sendable, Hashable, Codable {
        /// The range mapped through the edits still holds exactly the quote.
        case anchored
        /// The quote was found again by searching near the mapped range (exactly elsewhere,
        /// or approximately): `start`/`end` point at what was found.
        case fuzzy
        /// Not found: `start`/`end` are the mapped (possibly empty) range, kept so a later
        /// revision can find the quote again by the same rule.
        case orphaned
    }

    public var start: Int
    public var end: Int
    public var status: Status
    /// The article revision the anchor was computed for.
    public var revision: Int

    public init(start: Int, end: Int, status: Status, revision: Int) {
        self.start = start
        self.end = end
        self.status = status
        self.revision = revision
    }

    /// The anchor of a new annotation: its target, anchored at its revision.
    public init(target: AnnotationTarget, revision: Int) {
        self.init(start: target.start, end: target.end, status: .anchored, revision: revision)
    }

    /// Thresholds of the fuzzy search (docs/core.md).
    public enum Fuzzy {
        /// Scalars searched on each side of the mapped range.
        public static let window = 2_048
        /// An approximate match may differ from the quote by at most
        /// `quote scalars / maxErrorDivisor` edits (insert, delete or substitute a scalar):
        /// 25 %, so quotes under 4 scalars must match exactly.
        public static let maxErrorDivisor = 4
    }

    /// The anchor after `edit`, which turned the text of `self.revision` into `newText` at
    /// `revision`. Deterministic: the same inputs give the same anchor on every replica.
    ///
    /// 1. Map the range: the start sticks right (text inserted exactly at the start is not
    ///    annotated), the end sticks left (nor text inserted exactly at the end).
    /// 2. If the mapped range holds exactly `target.exact`: `anchored`.
    /// 3. Otherwise search within `Fuzzy.window` scalars of the mapped range: first exact
    ///    occurrences of the quote (on grapheme boundaries), preferring the most matching
    ///    context (prefix and suffix scalars), then the nearest to the mapped start, then the
    ///    leftmost; then approximate matches within 25 % edit distance, preferring the fewest
    ///    errors, then the nearest, then the leftmost (ends widened to grapheme boundaries).
    ///    Found: `fuzzy`.
    /// 4. Else `orphaned` at the mapped range.
    public func reanchored(target: AnnotationTarget, through edit: TextEdit, newText: ScalarText, revision: Int) -> Anchor {
        let start = min(edit.transformPosition(self.start, stickRight: true), newText.count)
        let end = min(max(edit.transformPosition(self.end, stickRight: false), start), newText.count)
        return Self.locate(target: target, in: newText, near: start, end, revision: revision)
    }

    /// Steps 2–4 of `reanchored` for a range already mapped into `text`.
    public static func locate(target: AnnotationTarget, in text: ScalarText, near start: Int, _ end: Int, revision: Int) -> Anchor {
        // The common case first, without allocating: the mapped range still holds the quote.
        if start < end, text.isBoundary(start), text.isBoundary(end), text.scalars[start..<end].elementsEqual(target.exact.unicodeScalars) {
            return Anchor(start: start, end: end, status: .anchored, revision: revision)
        }
        let quote = Array(target.exact.unicodeScalars)
        let low = max(0, start - Fuzzy.window), high = min(text.count, end + Fuzzy.window)
        let exact = AnnotationTarget.occurrences(of: quote, in: text, range: low..<high)
        if !exact.isEmpty {
            let prefix = Array(target.prefix.unicodeScalars), suffix = Array(target.suffix.unicodeScalars)
            func context(_ position: Int) -> Int {
                var before = 0
                while before < prefix.count, position - before - 1 >= 0, text.scalars[position - before - 1] == prefix[prefix.count - 1 - before] { before += 1 }
                var after = 0
                let tail = position + quote.count
                while after < suffix.count, tail + after < text.count, text.scalars[tail + after] == suffix[after] { after += 1 }
                return before + after
            }
            let best = exact.min { a, b in
                let (ca, cb) = (context(a), context(b))
                if ca != cb { return ca > cb }
                let (da, db) = (abs(a - start), abs(b - start))
                if da != db { return da < db }
                return a < b
            }!
            return Anchor(start: best, end: best + quote.count, status: .fuzzy, revision: revision)
        }
        let maxErrors = quote.count / Fuzzy.maxErrorDivisor
        if maxErrors > 0, let (s, e) = approximate(quote, in: text, low: low, high: high, maxErrors: maxErrors, near: start) {
            let snappedStart = text.boundary(atOrBefore: s), snappedEnd = text.boundary(atOrAfter: e)
            if snappedStart < snappedEnd {
                return Anchor(start: snappedStart, end: snappedEnd, status: .fuzzy, revision: revision)
            }
        }
        return Anchor(start: start, end: end, status: .orphaned, revision: revision)
    }

    /// Sellers' approximate substring search: the substring of `text[low..<high]` with the
    /// fewest edits from `quote` (at most `maxErrors`), ties to the start nearest `near`,
    /// then the leftmost. O(quote × window).
    static func approximate(_ quote: [Unicode.Scalar], in text: ScalarText, low: Int, high: Int, maxErrors: Int, near: Int) -> (Int, Int)? {
        let m = quote.count
        var cost = Array(0...m), origin = [Int](repeating: low, count: m + 1)
        var nextCost = cost, nextOrigin = origin
        var best: (errors: Int, start: Int, end: Int)?
        let scalars = text.scalars
        for j in low..<high {
            nextCost[0] = 0
            nextOrigin[0] = j + 1
            let t = scalars[j]
            for i in 1...m {
                // Diagonal first, then skipping a text scalar, then a quote scalar: a fixed order.
                var c = cost[i - 1] + (quote[i - 1] == t ? 0 : 1), o = origin[i - 1]
                if cost[i] + 1 < c { c = cost[i] + 1; o = origin[i] }
                if nextCost[i - 1] + 1 < c { c = nextCost[i - 1] + 1; o = nextOrigin[i - 1] }
                nextCost[i] = c
                nextOrigin[i] = o
            }
            swap(&cost, &nextCost)
            swap(&origin, &nextOrigin)
            let errors = cost[m], start = origin[m], end = j + 1
            guard errors <= maxErrors, start < end else { continue }
            if let current = best {
                let better = errors < current.errors
                    || (errors == current.errors && abs(start - near) < abs(current.start - near))
                    || (errors == current.errors && abs(start - near) == abs(current.start - near) && start < current.start)
                if !better { continue }
            }
            best = (errors, start, end)
        }
        return best.map { ($0.start, $0.end) }
    }
}
