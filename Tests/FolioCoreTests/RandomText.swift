import FolioTestSupport
import Testing
@testable import FolioCore


/// Random texts from whole grapheme clusters that never fuse with their neighbours:
/// Hindi (nukta letters precomposed and decomposed, conjuncts, vowel signs, danda),
/// English, and emoji (skin tones, ZWJ sequences, flags).
enum RandomText {
    static let tokens: [String] = [
        "क", "ख", "ग", "न", "म", "र", "स", "ल", "द", "ह", "य", "ये",
        "\u{0958}", "क\u{093C}", "\u{095B}", "ज\u{093C}", "\u{0959}", "ख\u{093C}", "\u{0958}ि",
        "क्ष", "त्र", "त्रि", "क्षे", "कि", "की", "कु", "के", "कै", "को", "मैं", "दी", "।",
        " ", " ", " ", "a", "b", "T", "h", "e", "s", ".", ",", "\n", "é", "e\u{0301}",
        "👍🏽", "👩‍💻", "🇮🇳", "😀",
    ]

    /// The NFC scalars of every token: each cluster of a generated text is one of these.
    static let clusters: Set<[Unicode.Scalar]> = Set(tokens.map { Array($0.nfc.unicodeScalars) })

    static func string<G: RandomNumberGenerator>(_ generator: inout G, maxTokens: Int = 40) -> String {
        let n = Int.random(in: 0...maxTokens, using: &generator)
        return (0..<n).map { _ in tokens.randomElement(using: &generator)! }.joined()
    }

    static func text<G: RandomNumberGenerator>(_ generator: inout G, maxTokens: Int = 40) -> ScalarText {
        ScalarText(string(&generator, maxTokens: maxTokens))
    }

    /// A random edit of `base` that cuts only at cluster boundaries.
    static func edit<G: RandomNumberGenerator>(of base: ScalarText, _ generator: inout G) -> TextEdit {
        let bounds = base.boundaries
        var ops: [TextEdit.Operation] = []
        var cluster = 0
        let clusters = bounds.count - 1
        while cluster < clusters || Bool.random(using: &generator) && ops.isEmpty {
            let remaining = clusters - cluster
            switch Int.random(in: 0..<10, using: &generator) {
            case 0..<3 where remaining > 0:
                let k = Int.random(in: 1...min(remaining, 4), using: &generator)
                ops.append(.delete(bounds[cluster + k] - bounds[cluster]))
                cluster += k
            case 3..<5:
                let text = string(&generator, maxTokens: 4)
                if !text.isEmpty { ops.append(.insert(text)) }
            default:
                if remaining > 0 {
                    let k = Int.random(in: 1...min(remaining, 6), using: &generator)
                    ops.append(.retain(bounds[cluster + k] - bounds[cluster]))
                    cluster += k
                }
            }
            if remaining == 0 { break }
        }
        return try! TextEdit(ops)
    }

    /// Whether every cluster of `text` is a whole token (no split or fused cluster).
    static func hasOnlyWholeClusters(_ text: ScalarText) -> Bool {
        let bounds = text.boundaries
        for i in 0..<(bounds.count - 1) where !clusters.contains(Array(text.scalars[bounds[i]..<bounds[i + 1]])) {
            return false
        }
        return true
    }
}

func scalars(_ text: String) -> [UInt32] { text.unicodeScalars.map(\.value) }
