/// Turns two texts into a small edit (for `folio edit` with `$EDITOR`, `--file`, and `folio diff`).
public enum TextDiff {
    /// Above this many grapheme differences the middle (after the common prefix and suffix)
    /// is replaced whole instead: Myers' algorithm costs O((N+M)·D) time and O(D²) memory.
    public static let defaultMaxDifferences = 2_000

    /// An edit with `apply(old, edit) == NFC(new)`.
    ///
    /// Both texts are normalized to NFC and split into extended grapheme clusters; the common
    /// prefix and suffix are trimmed, and the rest is diffed cluster by cluster with Myers'
    /// algorithm. Counts are emitted in scalars. A changed cluster is replaced whole, so
    /// removing a vowel sign (`ये` → `य`) deletes `ये` and inserts `य`: every cut falls on a
    /// grapheme boundary, as `TextEdit.apply` requires.
    public static func diff(_ old: String, _ new: String, maxDifferences: Int = defaultMaxDifferences) -> TextEdit {
        diff(ScalarText(old), ScalarText(new), maxDifferences: maxDifferences)
    }

    /// `diff` of texts already indexed.
    public static func diff(_ old: ScalarText, _ new: ScalarText, maxDifferences: Int = defaultMaxDifferences) -> TextEdit {
        var interner: [ArraySlice<Unicode.Scalar>: Int] = [:]
        func clusters(_ text: ScalarText) -> (ids: [Int], bounds: [Int]) {
            let bounds = text.boundaries
            var ids: [Int] = []
            ids.reserveCapacity(bounds.count)
            for i in 0..<(bounds.count - 1) {
                let key = text.scalars[bounds[i]..<bounds[i + 1]]
                if let id = interner[key] {
                    ids.append(id)
                } else {
                    let id = interner.count
                    interner[key] = id
                    ids.append(id)
                }
            }
            return (ids, bounds)
        }
        let (a, aBounds) = clusters(old)
        let (b, bBounds) = clusters(new)
        var prefix = 0
        while prefix < a.count, prefix < b.count, a[prefix] == b[prefix] { prefix += 1 }
        var suffix = 0
        while suffix < a.count - prefix, suffix < b.count - prefix, a[a.count - 1 - suffix] == b[b.count - 1 - suffix] { suffix += 1 }
        let aMiddle = Array(a[prefix..<(a.count - suffix)]), bMiddle = Array(b[prefix..<(b.count - suffix)])

        var builder = TextEditBuilder()
        builder.retain(aBounds[prefix])
        // Script over the middle, in cluster indices relative to the middles.
        let script = myers(aMiddle, bMiddle, maxDifferences: maxDifferences)
            ?? [Step](repeating: .delete, count: aMiddle.count) + [Step](repeating: .insert, count: bMiddle.count)
        var i = prefix, j = prefix
        for step in script {
            switch step {
            case .equal:
                builder.retain(aBounds[i + 1] - aBounds[i])
                i += 1
                j += 1
            case .delete:
                builder.delete(aBounds[i + 1] - aBounds[i])
                i += 1
            case .insert:
                builder.insert(new.slice(bBounds[j], bBounds[j + 1]))
                j += 1
            }
        }
        builder.retain(old.count - aBounds[i])
        return builder.edit
    }

    enum Step { case equal, delete, insert }

    /// Myers' O((N+M)·D) shortest edit script, or nil when it needs more than
    /// `maxDifferences` inserts and deletes.
    static func myers(_ a: [Int], _ b: [Int], maxDifferences: Int) -> [Step]? {
        let n = a.count, m = b.count
        if n == 0 { return [Step](repeating: .insert, count: m) }
        if m == 0 { return [Step](repeating: .delete, count: n) }
        let limit = min(n + m, maxDifferences)
        let offset = limit + 1
        var v = [Int](repeating: 0, count: 2 * limit + 3)
        // trace[d] holds v[k] for k in -d...d as it was before round d.
        var trace: [[Int]] = []
        var found = -1
        search: for d in 0...limit {
            trace.append(Array(v[(offset - d)...(offset + d)]))
            for k in stride(from: -d, through: d, by: 2) {
                var x: Int
                if k == -d || (k != d && v[offset + k - 1] < v[offset + k + 1]) {
                    x = v[offset + k + 1]
                } else {
                    x = v[offset + k - 1] + 1
                }
                var y = x - k
                while x < n, y < m, a[x] == b[y] {
                    x += 1
                    y += 1
                }
                v[offset + k] = x
                if x >= n, y >= m {
                    found = d
                    break search
                }
            }
        }
        guard found >= 0 else { return nil }
        var steps: [Step] = []
        steps.reserveCapacity(n + m)
        var x = n, y = m
        var d = found
        while d > 0 {
            let snapshot = trace[d]
            func value(_ k: Int) -> Int { snapshot[k + d] }
            let k = x - y
            let previousK = (k == -d || (k != d && value(k - 1) < value(k + 1))) ? k + 1 : k - 1
            let previousX = value(previousK), previousY = previousX - previousK
            while x > previousX, y > previousY {
                steps.append(.equal)
                x -= 1
                y -= 1
            }
            if x == previousX {
                steps.append(.insert)
            } else {
                steps.append(.delete)
            }
            x = previousX
            y = previousY
            d -= 1
        }
        while x > 0, y > 0 {
            steps.append(.equal)
            x -= 1
            y -= 1
        }
        return steps.reversed()
    }
}
