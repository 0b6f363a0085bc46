import FolioTestSupport
import Testing
@testable import FolioCore

/// Properties of apply, compose, transform, diff and merge over random mixed-script texts.
/// Each test runs a few hundred seeded cases and names the seed of a failing one.
@Suite("Edit properties")
struct EditPropertyTests {
    static let iterations = 300

    @Test func applyKeepsWholeClusters() throws {
        for seed in 1...UInt64(Self.iterations) {
            var generator = SplitMix64(seed: seed)
            let base = RandomText.text(&generator)
            #expect(RandomText.hasOnlyWholeClusters(base), "seed \(seed): generator made a fused cluster in \(base)")
            let edit = RandomText.edit(of: base, &generator)
            let result = try edit.apply(to: base)
            #expect(result.count == edit.targetLength, "seed \(seed)")
            #expect(RandomText.hasOnlyWholeClusters(result), "seed \(seed): \(base) + \(edit) = \(result)")
            #expect(result.string.isNFC, "seed \(seed)")
            // apply checks windows around the junctions; a full segmentation agrees.
            #expect(result.boundaries == ScalarText(result.string).boundaries, "seed \(seed)")
        }
    }

    @Test func transformConverges() throws {
        for seed in 1...UInt64(Self.iterations) {
            var generator = SplitMix64(seed: seed &* 7_919)
            let base = RandomText.text(&generator)
            let a = RandomText.edit(of: base, &generator)
            let b = RandomText.edit(of: base, &generator)
            let (aPrime, bPrime) = try TextEdit.transform(a, b)
            let left = try bPrime.apply(to: a.apply(to: base))
            let right = try aPrime.apply(to: b.apply(to: base))
            #expect(left.scalars == right.scalars, "seed \(seed): base \(base), a \(a), b \(b)")
            #expect(RandomText.hasOnlyWholeClusters(left), "seed \(seed)")
        }
    }

    @Test func composeAgreesWithSequentialApply() throws {
        for seed in 1...UInt64(Self.iterations) {
            var generator = SplitMix64(seed: seed &* 104_729)
            let base = RandomText.text(&generator)
            let a = RandomText.edit(of: base, &generator)
            let middle = try a.apply(to: base)
            let b = RandomText.edit(of: middle, &generator)
            let sequential = try b.apply(to: middle)
            let composed = try a.composed(with: b).apply(to: base)
            #expect(sequential.scalars == composed.scalars, "seed \(seed): base \(base), a \(a), b \(b)")
        }
    }

    @Test func diffReproducesTheNewText() throws {
        for seed in 1...UInt64(Self.iterations) {
            var generator = SplitMix64(seed: seed &* 15_485_863)
            let old = RandomText.text(&generator)
            // Half the cases: a related text (a small edit away); half: an unrelated one.
            let new = seed % 2 == 0 ? try RandomText.edit(of: old, &generator).apply(to: old) : RandomText.text(&generator)
            let edit = TextDiff.diff(old, new)
            let result = try edit.apply(to: old)
            #expect(result.scalars == new.scalars, "seed \(seed): \(old) → \(new) by \(edit)")
            #expect(RandomText.hasOnlyWholeClusters(result), "seed \(seed)")
        }
    }

    @Test func diffFallsBackToReplacingTheMiddle() throws {
        var generator = SplitMix64(seed: 99)
        let old = RandomText.text(&generator, maxTokens: 200), new = RandomText.text(&generator, maxTokens: 200)
        let edit = TextDiff.diff(old, new, maxDifferences: 3)
        #expect(try edit.apply(to: old).scalars == new.scalars)
    }

    @Test func mappedBoundariesStayBoundaries() throws {
        for seed in 1...UInt64(Self.iterations) {
            var generator = SplitMix64(seed: seed &* 31)
            let base = RandomText.text(&generator)
            let edit = RandomText.edit(of: base, &generator)
            let result = try edit.apply(to: base)
            for position in base.boundaries {
                for stick in [true, false] {
                    let mapped = edit.transformPosition(position, stickRight: stick)
                    #expect(result.isBoundary(mapped), "seed \(seed): \(position) → \(mapped) in \(result)")
                }
            }
        }
    }

    @Test func mergeWithoutConflictApplies() throws {
        var merged = 0, conflicted = 0
        for seed in 1...UInt64(Self.iterations) {
            var generator = SplitMix64(seed: seed &* 977)
            var text = RandomText.text(&generator)
            let base = text
            var intervening: [(revision: Int, edit: TextEdit)] = []
            for revision in 2...Int.random(in: 2...5, using: &generator) {
                let edit = RandomText.edit(of: text, &generator)
                text = try edit.apply(to: text)
                intervening.append((revision, edit))
            }
            let incoming = RandomText.edit(of: base, &generator)
            switch try merge(edit: incoming, baseRevision: 1, intervening: intervening) {
            case .applied(let edit), .transformed(let edit):
                let result = try edit.apply(to: text)
                #expect(RandomText.hasOnlyWholeClusters(result), "seed \(seed)")
                merged += 1
            case .conflicted(let revisions):
                #expect(!revisions.isEmpty && revisions.allSatisfy { (2...5).contains($0) }, "seed \(seed)")
                conflicted += 1
            }
        }
        #expect(merged > 20 && conflicted > 20, "both outcomes are exercised: \(merged) merged, \(conflicted) conflicted")
    }
}
