import FolioCore
import Foundation

/// Benchmarks of the domain core (`FolioBench --suite core`): no database. Transforms an edit
/// against 1,000 intervening edits and re-anchors 1,000 annotations through one edit, on a
/// 50 KB Hindi article. Results go to docs/performance.md ("Domain core").
struct CoreBench {
    var rounds = 21

    struct Row {
        var what: String
        var median: Duration
        var best: Duration
    }

    /// A deterministic generator, so every run measures the same texts and edits.
    typealias Generator = SplitMix64

    static let sentences = [
        "नई दिल्ली: मौसम विभाग ने आज क़ुतुब मीनार के पास भारी बारिश की चेतावनी दी।",
        "क्षेत्र में यातायात धीमा रहा और कई उड़ानें देर से चलीं।",
        "ज़िला प्रशासन ने स्कूलों को बंद रखने का आदेश दिया है।",
        "ख़बर के मुताबिक़ त्रिपुरा और असम में भी बादल छाए रहेंगे।",
        "Caption: Monsoon clouds over Delhi 🌧️ (Photo: PTI) 👍🏽",
        "विशेषज्ञों का कहना है कि यह मौसम किसानों के लिए फ़ायदेमंद होगा।",
    ]

    /// About 50 KB of UTF-8: Hindi sentences with numbered paragraphs.
    static func article(bytes: Int = 50_000) -> String {
        var generator = Generator(seed: 2026)
        var text = ""
        var paragraph = 1
        while text.utf8.count < bytes {
            text += "\(paragraph). "
            for _ in 0..<Int.random(in: 3...6, using: &generator) {
                text += sentences.randomElement(using: &generator)! + " "
            }
            text += "\n\n"
            paragraph += 1
        }
        return text
    }

    /// A small random edit of `text` at cluster boundaries: an insert, a delete or a replacement.
    static func smallEdit(of text: ScalarText, bounds: [Int], _ generator: inout Generator) -> TextEdit {
        let i = Int.random(in: 0..<(bounds.count - 4), using: &generator)
        let start = bounds[i]
        let end = bounds[i + Int.random(in: 0...3, using: &generator)]
        let insert = Bool.random(using: &generator) || start == end ? ["नया ", "ताज़ा ", "updated ", "क्षेत्र "].randomElement(using: &generator)! : ""
        return try! TextEdit.replacing(start: start, end: end, with: insert, length: text.count)
    }

    func measure(_ body: () throws -> Void) rethrows -> (median: Duration, best: Duration) {
        var times: [Duration] = []
        for _ in 0..<rounds {
            let start = ContinuousClock.now
            try body()
            times.append(ContinuousClock.now - start)
        }
        times.sort()
        return (times[times.count / 2], times[0])
    }

    func run() throws -> String {
        let raw = Self.article()
        let base = ScalarText(raw)
        var rows: [Row] = []

        // 1,000 intervening edits, each on the text before it.
        var generator = Generator(seed: 7)
        var text = base
        var intervening: [(revision: Int, edit: TextEdit)] = []
        var bounds = text.boundaries
        for revision in 2...1_001 {
            let edit = Self.smallEdit(of: text, bounds: bounds, &generator)
            text = try edit.apply(to: text)
            bounds = text.boundaries
            intervening.append((revision, edit))
        }
        let incoming = try TextEdit.replacing(start: base.boundaries[base.graphemeCount / 2], end: base.boundaries[base.graphemeCount / 2 + 2], with: "बदला", length: base.count)
        var outcome: MergeOutcome?
        let merged = try measure { outcome = try merge(edit: incoming, baseRevision: 1, intervening: intervening) }
        rows.append(Row(what: "merge: transform one edit against 1,000 intervening edits (\(Self.describe(outcome)))", median: merged.median, best: merged.best))

        let small = Self.smallEdit(of: text, bounds: bounds, &generator)
        let applied = try measure { _ = try small.apply(to: text) }
        rows.append(Row(what: "apply one edit to the article, with the grapheme checks", median: applied.median, best: applied.best))

        let indexed = measure { _ = ScalarText(raw) }
        rows.append(Row(what: "NFC-normalize and index the article (ScalarText)", median: indexed.median, best: indexed.best))

        // 1,000 annotations, re-anchored through one edit that touches a few of them.
        let baseBounds = base.boundaries
        var targets: [AnnotationTarget] = []
        while targets.count < 1_000 {
            let i = Int.random(in: 0..<(baseBounds.count - 30), using: &generator)
            let start = baseBounds[i], end = baseBounds[i + Int.random(in: 3...25, using: &generator)]
            targets.append(try AnnotationTarget(text: base, start: start, end: end))
        }
        let anchors = targets.map { Anchor(target: $0, revision: 1) }
        let middle = baseBounds[baseBounds.count / 2]
        let edit = try TextEdit.replacing(start: middle, end: baseBounds[baseBounds.count / 2 + 40], with: "यहाँ नया अनुच्छेद जोड़ा गया। ", length: base.count)
        let newText = try edit.apply(to: base)
        var statuses: [Anchor.Status: Int] = [:]
        let anchored = measure {
            var counts: [Anchor.Status: Int] = [:]
            for (anchor, target) in zip(anchors, targets) {
                counts[anchor.reanchored(target: target, through: edit, newText: newText, revision: 2).status, default: 0] += 1
            }
            statuses = counts
        }
        let summary = [Anchor.Status.anchored, .fuzzy, .orphaned].map { "\(statuses[$0, default: 0]) \($0.rawValue)" }.joined(separator: ", ")
        rows.append(Row(what: "re-anchor 1,000 annotations through one edit (\(summary))", median: anchored.median, best: anchored.best))

        // The worst case of re-anchoring: every annotation needs the fuzzy search.
        let fuzzyTarget = targets[0]
        let wipe = try TextEdit.replacing(start: fuzzyTarget.start, end: fuzzyTarget.end, with: "", length: base.count)
        let wiped = try wipe.apply(to: base)
        let orphan = measure { _ = anchors[0].reanchored(target: fuzzyTarget, through: wipe, newText: wiped, revision: 2) }
        rows.append(Row(what: "re-anchor one annotation whose text was deleted (full fuzzy search, \(fuzzyTarget.exact.unicodeScalars.count)-scalar quote)", median: orphan.median, best: orphan.best))

        var history = ArticleHistory(created: ArticleCreated(articleId: UUID(), slug: "bench", title: "बेंच", language: "hi", text: raw), recordedAt: Date(timeIntervalSince1970: 0))
        for (revision, edit) in intervening {
            try history.append(.articleEdited(ArticleEdited(articleId: history.current.id, baseRevision: revision - 1, ops: edit)), revision: revision, recordedAt: Date(timeIntervalSince1970: Double(revision)))
        }
        let historical = try measure { _ = try history.state(at: 500) }
        rows.append(Row(what: "article at revision 500 of 1,001 (snapshot every 32 revisions + up to 31 edits)", median: historical.median, best: historical.best))

        let formatter = ISO8601DateFormatter()
        var lines = [
            "Run: \(formatter.string(from: Date())) · article: \(raw.utf8.count) bytes UTF-8, \(base.count) scalars, \(base.graphemeCount) grapheme clusters · \(rounds) rounds each",
            "",
            "| measurement | median | best |",
            "| --- | ---: | ---: |",
        ]
        for row in rows {
            lines.append("| \(row.what) | \(Self.format(row.median)) | \(Self.format(row.best)) |")
        }
        return lines.joined(separator: "\n")
    }

    static func describe(_ outcome: MergeOutcome?) -> String {
        switch outcome {
        case .applied?: return "applied"
        case .transformed?: return "merged"
        case .conflicted(let revisions)?: return "conflict with \(revisions.count) revisions"
        case nil: return "-"
        }
    }

    static func format(_ duration: Duration) -> String {
        let micros = Double(duration.components.seconds) * 1e6 + Double(duration.components.attoseconds) / 1e12
        return micros >= 1000 ? String(format: "%.2f ms", micros / 1000) : String(format: "%.1f µs", micros)
    }
}
