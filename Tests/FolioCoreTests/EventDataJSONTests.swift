import Foundation
import Testing
@testable import FolioCore

/// The hand-written JSON of event data is byte for byte what `JSONEncoder` writes, and steps
/// aside whenever a string needs escaping.
@Suite("Event data JSON written by hand")
struct EventDataJSONTests {
    static let texts = [
        "नई दिल्ली: क़ानून और ज़मीन पर ख़बर। क्षेत्र में त्रिपुरा के लोग आए।",
        "नई दिल्ली: क\u{093C}ानून और ज\u{093C}मीन पर ख\u{093C}बर।",
        "Flood warning 🌧️ for the city 👩🏽‍💻, see https://example.com/a/b",
        "",
        "line separator \u{2028} and paragraph separator \u{2029}, DEL \u{7F}",
        "a/b <script> & 'single' quotes",
    ]

    static var events: [FolioEvent] {
        var events: [FolioEvent] = []
        let article = UUID()
        for (index, text) in texts.enumerated() {
            let sources: [ArticleSource?] = [
                nil, ArticleSource(), ArticleSource(byline: text),
                ArticleSource(byline: "प्रिया", url: "https://example.com/a", publishedAt: RFC3339.date(from: "2026-01-10T08:00:00Z")),
                ArticleSource(url: "https://example.com/\(index)"),
            ]
            for source in sources {
                events.append(.articleCreated(ArticleCreated(
                    articleId: article, slug: "slug-\(index)", title: text.isEmpty ? "शीर्षक" : text, language: "hi", text: text, source: source)))
            }
            let edit = try! TextEdit([.retain(2), .insert(text.isEmpty ? "नया" : text), .delete(1)])
            events.append(.articleEdited(ArticleEdited(articleId: article, baseRevision: index + 1, ops: edit)))
            events.append(.articleEdited(ArticleEdited(articleId: article, baseRevision: 7, ops: edit, summary: text)))
            events.append(.annotationAdded(AnnotationAdded(
                annotationId: UUID(), articleId: article, revision: index + 1,
                target: AnnotationTarget(start: index, end: index + 3, exact: "क़ि\(text)", prefix: text, suffix: " है"),
                body: text, tags: index % 2 == 0 ? [] : ["fact-check", text], motivation: "commenting")))
        }
        return events
    }

    @Test func sameTextAsJSONEncoder() throws {
        var written = 0
        for event in Self.events {
            let expected = String(decoding: try event.encodedData(), as: UTF8.self)
            let text = try #require(EventDataJSON.text(for: event), "\(event.type) has no string that needs escaping")
            #expect(text == expected)
            #expect(try event.jsonText() == expected)
            written += 1
        }
        #expect(written == Self.texts.count * 8)
    }

    @Test func stringsThatNeedEscapingFallBackToJSONEncoder() throws {
        let article = UUID()
        for awkward in ["a \"quoted\" word", "back\\slash", "tab\there", "new\nline", "nul \u{0}", "unit \u{1F} separator"] {
            let events: [FolioEvent] = [
                .articleCreated(ArticleCreated(articleId: article, slug: "s", title: "t", language: "en", text: awkward)),
                .articleEdited(ArticleEdited(articleId: article, baseRevision: 1, ops: try TextEdit([.insert("नया"), .retain(1)]), summary: awkward)),
                .annotationAdded(AnnotationAdded(
                    annotationId: UUID(), articleId: article, revision: 1, target: AnnotationTarget(start: 0, end: 1, exact: "a"), body: awkward)),
            ]
            for event in events {
                #expect(EventDataJSON.text(for: event) == nil)
                let text = try event.jsonText()
                #expect(text == String(decoding: try event.encodedData(), as: UTF8.self))
                // And it reads back as the same event.
                #expect(try FolioEvent.decode(type: event.type, schemaVersion: 1, json: text) == event)
            }
        }
    }

    /// An insert that needs escaping is escaped by the edit's own JSON; the rest is written here.
    @Test func escapedInsertsKeepTheHandWrittenText() throws {
        let event = FolioEvent.articleEdited(ArticleEdited(
            articleId: UUID(), baseRevision: 3, ops: try TextEdit([.retain(2), .insert("a \"quoted\"\tword\n"), .delete(1)]), summary: "सार"))
        let text = try #require(EventDataJSON.text(for: event))
        #expect(text == String(decoding: try event.encodedData(), as: UTF8.self))
        #expect(try FolioEvent.decode(type: event.type, schemaVersion: 1, json: text) == event)
    }

    @Test func lowercasedUUIDsAsFoundationWritesThem() {
        for _ in 0..<1000 {
            let id = UUID()
            #expect(id.lowercasedString == id.uuidString.lowercased())
        }
        #expect(UUID(uuid: (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xFF)).lowercasedString == "00010203-0405-0607-0809-0a0b0c0d0eff")
    }

    @Test func otherTypesUseJSONEncoder() {
        #expect(EventDataJSON.text(for: .articleRetitled(ArticleRetitled(articleId: UUID(), title: "नया शीर्षक"))) == nil)
    }
}
