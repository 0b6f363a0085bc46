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

    /// Pieces that join or split clusters next to others: vowel signs, virama, nukta,
    /// regional indicators, ZWJ, skin tones, combining accents, CR LF.
    static let fusing: [String] = [
        "\u{093F}", "\u{094D}", "\u{093C}", "\u{0947}", "क", "ष", "\u{1F1EE}", "\u{1F1F3}", "\u{200D}", "\u{1F469}", "\u{1F3FD}",
        "\u{0301}", "e", "\r", "\n", " ", "\u{1F4BB}", "क्", "👩‍", "🇮",
    ]

    /// The merged windows of `apply` accept and refuse exactly what one window per junction
    /// did, with the same error, also on edits that join or split clusters.
    @Test func mergedWindowsAgreeWithOneWindowPerJunction() {
        var refused = 0
        for seed in 1...UInt64(2_000) {
            var generator = SplitMix64(seed: seed &* 104_729)
            let pieces = (0..<Int.random(in: 0...24, using: &generator)).map { _ in
                Bool.random(using: &generator) ? Self.fusing.randomElement(using: &generator)! : RandomText.tokens.randomElement(using: &generator)!
            }
            let base = ScalarText(pieces.joined())
            var ops: [TextEdit.Operation] = []
            var position = 0
            while position < base.count || (ops.isEmpty && Bool.random(using: &generator)) {
                let remaining = base.count - position
                switch Int.random(in: 0..<10, using: &generator) {
                case 0..<3 where remaining > 0:
                    let n = Int.random(in: 1...min(remaining, 6), using: &generator)
                    ops.append(.delete(n))
                    position += n
                case 3..<6:
                    let text = (0..<Int.random(in: 1...3, using: &generator)).map { _ in Self.fusing.randomElement(using: &generator)! }.joined()
                    ops.append(.insert(text))
                default:
                    guard remaining > 0 else { break }
                    let n = Int.random(in: 1...min(remaining, 12), using: &generator)
                    ops.append(.retain(n))
                    position += n
                }
                if remaining == 0 { break }
            }
            guard let edit = try? TextEdit(ops) else { continue }
            let merged: Result<ScalarText, EditError>
            do throws(EditError) { merged = .success(try edit.apply(to: base, checkingEveryJunction: false)) } catch { merged = .failure(error) }
            let every: Result<ScalarText, EditError>
            do throws(EditError) { every = .success(try edit.apply(to: base, checkingEveryJunction: true)) } catch { every = .failure(error) }
            switch (merged, every) {
            case (.success(let a), .success(let b)):
                #expect(a.scalars == b.scalars && a.boundaries == b.boundaries, "seed \(seed)")
                #expect(a.boundaries == ScalarText(a.string).boundaries, "seed \(seed)")
            case (.failure(let a), .failure(let b)):
                #expect(a == b, "seed \(seed)")
                refused += 1
            default:
                Issue.record("seed \(seed): merged \(merged), every junction \(every), base \(ScalarText.describe(base.string)), edit \(edit)")
            }
        }
        #expect(refused > 100)
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
