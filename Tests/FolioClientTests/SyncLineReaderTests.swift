@testable import FolioClient
import Foundation
import Testing

/// The pull's fast reader of sync lines gives what `JSONSerialization` gives, and leaves
/// lines it does not expect to it.
@Suite("Sync line reader")
struct SyncLineReaderTests {
    static func bytes(_ text: String) -> ArraySlice<UInt8> { Array(text.utf8)[...] }

    static func object(_ text: String) throws -> NSDictionary {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? NSDictionary)
    }

    static let lines = [
        #"{"cursor":"1-42-7","event":{"data":{"articleId": "0D8F5A4E-9C1B-4E2A-8F00-111122223333", "language": "hi", "slug": "barish", "text": "नई दिल्ली: \"भारी\" बारिश\nदूसरी पंक्ति \\ \/ \u0915\u093f \ud83d\ude00", "title": "दिल्ली"},"id":"6A1F0E2C-0000-4000-8000-00000000000A","meta":{"author": "asha", "client": "laptop"},"position":42,"recordedAt":"2026-11-29T10:00:00.123456Z","revision":1,"schemaVersion":1,"stream":"article-0d8f5a4e-9c1b-4e2a-8f00-111122223333","type":"ArticleCreated"},"kind":"event"}"#,
        #" { "kind" : "event" , "event" : { "type" : "ArticleEdited", "stream" : "article-x", "revision" : 3, "position" : 9, "id" : "b", "data" : { "articleId" : "x", "baseRevision" : 2, "ops" : [5, "नया", -3, [1, {"a": "]}"}]], "summary" : null }, "recordedAt" : "2026-11-29T10:00:00Z" }, "cursor" : "c" } "#,
        #"{"cursor":"2","event":{"data":{"annotationId":"e"},"id":"f","position":10,"revision":2,"stream":"annotation-e","type":"AnnotationDeleted"},"kind":"event"}"#,
    ]

    @Test("event lines read as JSONSerialization reads them")
    func events() throws {
        for line in Self.lines {
            guard case .event(let fast)? = SyncLineReader.read(Self.bytes(line)) else {
                Issue.record("not read: \(line)")
                continue
            }
            guard case .event(let slow) = try SyncClient.slowItem(Self.bytes(line)) else {
                Issue.record("slow path: not an event")
                continue
            }
            #expect(fast.id == slow.id)
            #expect(fast.stream == slow.stream)
            #expect(fast.type == slow.type)
            #expect(fast.revision == slow.revision)
            #expect(fast.position == slow.position)
            #expect(fast.schemaVersion == slow.schemaVersion)
            #expect(fast.recordedAt == slow.recordedAt)
            #expect(fast.cursor == slow.cursor)
            #expect(fast.articleId == slow.articleId)
            #expect(try Self.object(fast.data) == Self.object(slow.data))
            #expect(try Self.object(fast.meta) == Self.object(slow.meta))
        }
    }

    @Test("control lines, unknown kinds, and lines left to JSONSerialization")
    func others() throws {
        guard case .upToDate(let cursor)? = SyncLineReader.read(Self.bytes(#"{"count":3,"cursor":"1-2-3","kind":"up-to-date"}"#)) else {
            Issue.record("up-to-date")
            return
        }
        #expect(cursor == "1-2-3")
        guard case .heartbeat(let beat)? = SyncLineReader.read(Self.bytes(#"{"cursor":"1-\u002d-3","kind":"heartbeat"}"#)) else {
            Issue.record("heartbeat")
            return
        }
        #expect(beat == "1---3")
        guard case .mustRefetch? = SyncLineReader.read(Self.bytes(#"{"kind":"must-refetch","reason":"epoch"}"#)) else {
            Issue.record("must-refetch")
            return
        }
        guard case .other? = SyncLineReader.read(Self.bytes(#"{"kind":"news","x":[1,2]}"#)) else {
            Issue.record("unknown kind")
            return
        }
        // A fractional revision is not for the fast reader; JSONSerialization reads it.
        let fractional = #"{"cursor":"2","event":{"data":{"articleId":"a"},"id":"f","position":10,"revision":2.0,"stream":"article-a","type":"ArticleArchived"},"kind":"event"}"#
        #expect(SyncLineReader.read(Self.bytes(fractional)) == nil)
        guard case .event(let event) = try SyncClient.slowItem(Self.bytes(fractional)) else {
            Issue.record("fractional revision")
            return
        }
        #expect(event.revision == 2)
        // Not JSON: neither reads it.
        for broken in [#"{"kind":"event","event":{"id":"#, #"{"kind":"up-to-date""#, "[1]", "{"] {
            #expect(SyncLineReader.read(Self.bytes(broken)) == nil)
            #expect(throws: ClientError.self) { try SyncClient.slowItem(Self.bytes(broken)) }
        }
    }
}
