import Foundation

/// How `import` reads a text file (SPEC §9): the first line is the title, blank lines right
/// after it are dropped, the rest is the text; the default slug comes from the file name.
public enum ImportFile {
    /// Title and text of `contents`.
    public static func split(_ contents: String) throws(ClientError) -> (title: String, text: String) {
        let normalized = contents.replacingOccurrences(of: "\r\n", with: "\n")
        var lines = normalized.split(separator: "\n", omittingEmptySubsequences: false)
        guard let first = lines.first else { throw .badInput("the file is empty") }
        let title = first.trimmingCharacters(in: .whitespaces)
        guard !title.isEmpty else { throw .badInput("the first line (the title) is empty") }
        lines.removeFirst()
        while let next = lines.first, next.trimmingCharacters(in: .whitespaces).isEmpty, lines.count > 1 {
            lines.removeFirst()
        }
        if lines.count == 1, lines[0].trimmingCharacters(in: .whitespaces).isEmpty { lines.removeAll() }
        return (title, lines.joined(separator: "\n"))
    }

    /// The slug of a file name: without extension, lower-cased, runs of characters other
    /// than `a-z0-9` turned into `-`, trimmed of `-` (`article` when nothing is left).
    public static func slug(fromFileName name: String) -> String {
        let base = (name as NSString).deletingPathExtension.lowercased()
        var slug = ""
        var lastWasDash = false
        for scalar in base.unicodeScalars {
            if ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) {
                slug.unicodeScalars.append(scalar)
                lastWasDash = false
            } else if !lastWasDash {
                slug += "-"
                lastWasDash = true
            }
        }
        let trimmed = slug.trimmingCharacters(in: CharacterSet(charactersIn: "-"))
        return trimmed.isEmpty ? "article" : trimmed
    }

    /// `slug`, or `slug-2`, `slug-3`, … — the first not in `taken`.
    public static func unique(_ slug: String, taken: Set<String>) -> String {
        guard taken.contains(slug) else { return slug }
        var n = 2
        while taken.contains("\(slug)-\(n)") { n += 1 }
        return "\(slug)-\(n)"
    }

    /// `hi` for text mostly in Devanagari, else `en`.
    public static func guessLanguage(_ text: String) -> String {
        var devanagari = 0, latin = 0
        for scalar in text.unicodeScalars {
            if (0x0900...0x097F).contains(scalar.value) { devanagari += 1 } else if scalar.properties.isAlphabetic { latin += 1 }
        }
        return devanagari > latin ? "hi" : "en"
    }
}
