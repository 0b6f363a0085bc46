/// Compose and transform, as in ot.js.
extension TextEdit {
    /// A cursor over operations that can take part of a retain or delete.
    private struct Cursor {
        let operations: [Operation]
        var index = 0
        /// What is left of the current operation (counts only shrink; inserts are taken whole).
        var current: Operation?

        init(_ operations: [Operation]) {
            self.operations = operations
            current = operations.first
        }

        mutating func advance() {
            index += 1
            current = index < operations.count ? operations[index] : nil
        }

        /// Takes `n` from the current retain or delete (which has at least `n`).
        mutating func consume(_ n: Int) {
            switch current {
            case .retain(let m): if m > n { current = .retain(m - n) } else { advance() }
            case .delete(let m): if m > n { current = .delete(m - n) } else { advance() }
            default: advance()
            }
        }
    }

    /// The single edit that does `self` and then `next`: for every text `t`,
    /// `t.apply(self).apply(next) == t.apply(self.composed(with: next))`.
    public func composed(with next: TextEdit) throws(EditError) -> TextEdit {
        guard targetLength == next.baseLength else {
            throw .incompatible("compose: the first edit produces \(targetLength) scalars, the second expects \(next.baseLength)")
        }
        var result = Builder()
        var a = Cursor(operations), b = Cursor(next.operations)
        while true {
            switch (a.current, b.current) {
            case (nil, nil):
                return result.edit
            case (.delete(let n)?, _):
                result.delete(n)
                a.advance()
            case (_, .insert(let text)?):
                result.insert(text)
                b.advance()
            case (.retain(let n)?, .retain(let m)?):
                let k = min(n, m)
                result.retain(k)
                a.consume(k)
                b.consume(k)
            case (.retain(let n)?, .delete(let m)?):
                let k = min(n, m)
                result.delete(k)
                a.consume(k)
                b.consume(k)
            case (.insert(let text)?, .retain(let m)?):
                // Inserts are split by scalar count when the retain is shorter.
                let scalars = Array(text.unicodeScalars)
                let k = min(scalars.count, m)
                result.insert(String(String.UnicodeScalarView(scalars[0..<k])))
                if k < scalars.count {
                    a.current = .insert(String(String.UnicodeScalarView(scalars[k...])))
                } else {
                    a.advance()
                }
                b.consume(k)
            case (.insert(let text)?, .delete(let m)?):
                let scalars = Array(text.unicodeScalars)
                let k = min(scalars.count, m)
                if k < scalars.count {
                    a.current = .insert(String(String.UnicodeScalarView(scalars[k...])))
                } else {
                    a.advance()
                }
                b.consume(k)
            case (nil, _?), (_?, nil):
                throw .incompatible("compose: the edits run out at different places")
            }
        }
    }

    /// Transforms two concurrent edits of the same text: returns `(a′, b′)` such that
    /// `t.apply(a).apply(b′) == t.apply(b).apply(a′)` (ot.js `transform`).
    ///
    /// **Tie-break.** When both insert at the same position, `a`'s insert comes first. The
    /// server passes the edit that is already in the log as `a` and the incoming edit as `b`,
    /// so the earlier-in-log insert always precedes; every replica that replays the log
    /// makes the same choice.
    public static func transform(_ a: TextEdit, _ b: TextEdit) throws(EditError) -> (TextEdit, TextEdit) {
        guard a.baseLength == b.baseLength else {
            throw .incompatible("transform: base lengths \(a.baseLength) and \(b.baseLength) differ")
        }
        var aPrime = Builder(), bPrime = Builder()
        var x = Cursor(a.operations), y = Cursor(b.operations)
        while true {
            switch (x.current, y.current) {
            case (nil, nil):
                return (aPrime.edit, bPrime.edit)
            case (.insert(let text)?, _):
                aPrime.insert(text)
                bPrime.retain(text.unicodeScalars.count)
                x.advance()
            case (_, .insert(let text)?):
                aPrime.retain(text.unicodeScalars.count)
                bPrime.insert(text)
                y.advance()
            case (.retain(let n)?, .retain(let m)?):
                let k = min(n, m)
                aPrime.retain(k)
                bPrime.retain(k)
                x.consume(k)
                y.consume(k)
            case (.delete(let n)?, .delete(let m)?):
                let k = min(n, m)
                x.consume(k)
                y.consume(k)
            case (.delete(let n)?, .retain(let m)?):
                let k = min(n, m)
                aPrime.delete(k)
                x.consume(k)
                y.consume(k)
            case (.retain(let n)?, .delete(let m)?):
                let k = min(n, m)
                bPrime.delete(k)
                x.consume(k)
                y.consume(k)
            case (nil, _?), (_?, nil):
                throw .incompatible("transform: the edits run out at different places")
            }
        }
    }

    /// The ranges of the base text this edit deletes, and the positions where it inserts,
    /// in base coordinates.
    public var changes: (deleted: [Range<Int>], insertions: [Int]) {
        var deleted: [Range<Int>] = [], insertions: [Int] = []
        var position = 0
        for operation in operations {
            switch operation {
            case .retain(let n): position += n
            case .delete(let n):
                deleted.append(position..<(position + n))
                position += n
            case .insert: insertions.append(position)
            }
        }
        return (deleted, insertions)
    }
}
