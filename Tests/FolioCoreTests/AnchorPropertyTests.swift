import FolioTestSupport
import Testing
@testable import FolioCore

@Suite("Anchor properties")
struct AnchorPropertyTests {
    /// Over random texts, annotations and edits: anchored ranges hold the quote, every range
    /// lies on cluster boundaries inside the new text, and the same inputs give the same anchor.
    @Test func reanchoredRangesAreConsistent() throws {
        var statuses: [Anchor.Status: Int] = [:]
        for seed in 1...UInt64(300) {
            var generator = SplitMix64(seed: seed &* 6_700_417)
            let base = RandomText.text(&generator, maxTokens: 60)
            let bounds = base.boundaries
            guard bounds.count > 3 else { continue }
            let i = Int.random(in: 0..<(bounds.count - 2), using: &generator)
            let j = Int.random(in: (i + 1)..<min(bounds.count, i + 8), using: &generator)
            let target = try AnnotationTarget(text: base, start: bounds[i], end: bounds[j])
            var anchor = Anchor(target: target, revision: 1)
            var text = base
            for revision in 2...4 {
                let edit = RandomText.edit(of: text, &generator)
                text = try edit.apply(to: text)
                let next = anchor.reanchored(target: target, through: edit, newText: text, revision: revision)
                #expect(next == anchor.reanchored(target: target, through: edit, newText: text, revision: revision), "seed \(seed)")
                #expect(next.start <= next.end && next.end <= text.count, "seed \(seed)")
                #expect(text.isBoundary(next.start) && text.isBoundary(next.end), "seed \(seed)")
                if next.status == .anchored {
                    #expect(text.slice(next.start, next.end).scalarsEqual(target.exact), "seed \(seed)")
                }
                statuses[next.status, default: 0] += 1
                anchor = next
            }
        }
        #expect(statuses.count == 3, "all statuses occur: \(statuses)")
    }
}
