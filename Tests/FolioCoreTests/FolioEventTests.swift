import Foundation
import Testing
@testable import FolioCore

@Suite("Events")
struct FolioEventTests {
    static let article = UUID(uuidString: "6F1C2E4A-8B3D-4E5F-9A1B-2C3D4E5F6A7B")!
    static let annotation = UUID(uuidString: "0A1B2C3D-4E5F-4061-8293-A4B5C6D7E8F9")!

    @Test func encodesStableSortedJSONWithLowercaseIDs() throws {
        let event = FolioEvent.articleCreated(ArticleCreated(
            articleId: Self.article, slug: "barish", title: "दिल्ली में बारिश", language: "hi", text: "\u{0958}ुतुब मीनार",
            source: ArticleSource(byline: "प्रिया", url: "https://example.com/a", publishedAt: RFC3339.date(from: "2026-01-10T08:00:00Z"))))
        let json = try event.jsonText()
        #expect(json == #"{"articleId":"6f1c2e4a-8b3d-4e5f-9a1b-2c3d4e5f6a7b","language":"hi","slug":"barish","source":{"byline":"प्रिया","publishedAt":"2026-01-10T08:00:00Z","url":"https://example.com/a"},"text":"क़ुतुब मीनार","title":"दिल्ली में बारिश"}"#)
        #expect(event.streamID == "article-6f1c2e4a-8b3d-4e5f-9a1b-2c3d4e5f6a7b")
        #expect(event.type == "ArticleCreated" && event.schemaVersion == 1)
        let decoded = try FolioEvent.decode(type: "ArticleCreated", schemaVersion: 1, json: json)
        #expect(decoded == event)
        #expect(try decoded.jsonText() == json)
    }

    @Test func everyTypeRoundTrips() throws {
        let edit = try TextEdit([.retain(2), .insert("नया"), .delete(1)])
        let target = AnnotationTarget(start: 0, end: 3, exact: "क़ि", prefix: "", suffix: " है")
        let events: [FolioEvent] = [
            .articleEdited(ArticleEdited(articleId: Self.article, baseRevision: 3, ops: edit, summary: "सुधार")),
            .articleRetitled(ArticleRetitled(articleId: Self.article, title: "नया शीर्षक")),
            .articleArchived(ArticleArchived(articleId: Self.article)),
            .editConflicted(EditConflicted(articleId: Self.article, baseRevision: 3, ops: edit, conflictsWith: [4, 6], rejectedEventId: Self.annotation)),
            .annotationAdded(AnnotationAdded(annotationId: Self.annotation, articleId: Self.article, revision: 2, target: target, body: "जाँचें", tags: ["तथ्य"], motivation: "questioning")),
            .annotationUpdated(AnnotationUpdated(annotationId: Self.annotation, tags: ["fact-check"])),
            .annotationDeleted(AnnotationDeleted(annotationId: Self.annotation)),
        ]
        for event in events {
            let decoded = try FolioEvent.decode(type: event.type, schemaVersion: 1, data: try event.encodedData())
            #expect(decoded == event, "\(event.type)")
        }
        #expect(events[4].streamID == "annotation-0a1b2c3d-4e5f-4061-8293-a4b5c6d7e8f9")
        #expect(events[4].articleId == Self.article && events[5].articleId == nil)
        #expect(try events[0].jsonText().contains(#""ops":[2,"नया",-1]"#))
    }

    @Test func decodingNormalizesTextToNFC() throws {
        let json = #"{"annotationId":"0a1b2c3d-4e5f-4061-8293-a4b5c6d7e8f9","articleId":"6f1c2e4a-8b3d-4e5f-9a1b-2c3d4e5f6a7b","revision":1,"target":{"start":0,"end":2,"exact":"\u0958","prefix":"","suffix":""},"body":"\u095Bरूरी","tags":[],"motivation":"commenting"}"#
        guard case .annotationAdded(let added) = try FolioEvent.decode(type: "AnnotationAdded", schemaVersion: 1, json: json) else {
            Issue.record("wrong type")
            return
        }
        #expect(scalars(added.target.exact) == [0x915, 0x93C])
        #expect(scalars(added.body).prefix(2) == [0x91C, 0x93C])
    }

    struct BadCase: Sendable, CustomTestStringConvertible {
        var type: String
        var version = 1
        var json: String
        var error: EventValidationError
        var testDescription: String { error.description }
    }

    static let id = "6f1c2e4a-8b3d-4e5f-9a1b-2c3d4e5f6a7b"
    static let bad: [BadCase] = [
        .init(type: "ArticleDeleted", json: "{}", error: .unknownType("ArticleDeleted")),
        .init(type: "ArticleEdited", version: 2, json: "{}", error: .unknownSchemaVersion(type: "ArticleEdited", version: 2, known: [1])),
        .init(type: "ArticleArchived", json: "[1]", error: .malformedJSON("expected a JSON object")),
        .init(type: "ArticleEdited", json: #"{"articleId":"\#(id)","ops":[1]}"#, error: .missingField("baseRevision")),
        .init(type: "ArticleEdited", json: #"{"articleId":"\#(id)","baseRevision":"3","ops":[1]}"#, error: .wrongType(field: "baseRevision", expected: "a number")),
        .init(type: "ArticleEdited", json: #"{"articleId":"\#(id)","baseRevision":0,"ops":[1]}"#, error: .invalidField(field: "baseRevision", reason: "revisions start at 1, got 0")),
        .init(type: "ArticleRetitled", json: #"{"articleId":"\#(id)","title":"  "}"#, error: .invalidField(field: "title", reason: "must not be empty")),
        // White space of other kinds counts as empty too: tab, newline, no-break space, ideographic and zero width space.
        .init(type: "ArticleRetitled", json: #"{"articleId":"\#(id)","title":"\t\n\u00a0\u3000\u200b"}"#, error: .invalidField(field: "title", reason: "must not be empty")),
        .init(type: "ArticleCreated", json: #"{"articleId":"\#(id)","slug":"Barish!","title":"t","language":"hi","text":""}"#, error: .invalidField(field: "slug", reason: "must be non-empty and only a-z, 0-9 and -, got \"Barish!\"")),
        .init(type: "AnnotationAdded", json: #"{"annotationId":"\#(id)","articleId":"\#(id)","revision":1,"target":{"end":2,"exact":"ab"},"body":"","tags":[],"motivation":"commenting"}"#, error: .missingField("target.start")),
        .init(type: "AnnotationUpdated", json: #"{"annotationId":"\#(id)","tags":["ok",""]}"#, error: .invalidField(field: "tags[1]", reason: "must not be empty")),
    ]

    @Test(arguments: bad) func refusalsNameWhatIsWrong(_ row: BadCase) {
        #expect(throws: row.error) { try FolioEvent.decode(type: row.type, schemaVersion: row.version, json: row.json) }
    }

    @Test func moreRefusalsNameTheirField() {
        let cases: [(String, String, String)] = [
            ("ArticleCreated", #"{"articleId":"nope","slug":"a","title":"t","language":"hi","text":""}"#, "articleId"),
            ("ArticleCreated", #"{"articleId":"\#(Self.id)","slug":"a","title":"t","language":"hindi language","text":""}"#, "language"),
            ("ArticleCreated", #"{"articleId":"\#(Self.id)","slug":"a","title":"t","language":"hi","text":"","source":{"publishedAt":"yesterday"}}"#, "source.publishedAt"),
            ("ArticleEdited", #"{"articleId":"\#(Self.id)","baseRevision":1,"ops":[1,0]}"#, "ops[1]"),
            ("AnnotationAdded", #"{"annotationId":"\#(Self.id)","articleId":"\#(Self.id)","revision":1,"target":{"start":0,"end":3,"exact":"ab"},"body":"","tags":[],"motivation":"commenting"}"#, "target.exact"),
            ("EditConflicted", #"{"articleId":"\#(Self.id)","baseRevision":3,"ops":[1],"conflictsWith":[2],"rejectedEventId":"\#(Self.id)"}"#, "conflictsWith[0]"),
        ]
        for (type, json, field) in cases {
            do {
                _ = try FolioEvent.decode(type: type, schemaVersion: 1, json: json)
                Issue.record("\(type) accepted: \(json)")
            } catch {
                #expect(error.field == field, "\(error)")
            }
        }
    }

    @Test func rfc3339AcceptsOffsetsAndFractions() throws {
        #expect(RFC3339.date(from: "2026-01-10T13:30:00+05:30") == RFC3339.date(from: "2026-01-10T08:00:00Z"))
        let fractional = try #require(RFC3339.date(from: "2026-01-10T08:00:00.250Z"))
        #expect(RFC3339.string(from: fractional) == "2026-01-10T08:00:00.250Z")
        #expect(RFC3339.date(from: "10/01/2026") == nil)
    }
}
