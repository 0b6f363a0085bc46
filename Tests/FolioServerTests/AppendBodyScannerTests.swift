@testable import FolioServer
import Foundation
import NIOCore
import Testing

/// The one-pass reader of `POST /v1/events` bodies reads every body it accepts exactly as
/// the `JSONSerialization` reader does, and hands everything else to it.
@Suite("Append body scanner")
struct AppendBodyScannerTests {
    static let article = "0b6f1c2e-4d3a-4f5e-9a7b-1c2d3e4f5a6b"

    static func event(_ id: String = UUID().uuidString.lowercased(), extra: String = "", data: String? = nil) -> String {
        let data = data ?? #"{"articleId": "\#(article)", "slug": "barish", "title": "दिल्ली में बारिश", "language": "hi", "text": "क़ानून ज़मीन ख़बर क्ष त्र कि। 🌧️👩🏽‍💻"}"#
        return #"{"id": "\#(id)", "type": "ArticleCreated", "data": \#(data)\#(extra)}"#
    }

    /// What a reader made of a body, comparable.
    static func summary(_ events: [IncomingEvent]) -> [String] {
        events.map { event in
            let meta = event.meta.compactMapValues { $0 as? String }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            return [
                String(event.index), event.id.uuidString, event.type, String(event.schemaVersion), String(decoding: event.data, as: UTF8.self),
                event.stream ?? "-", event.expectedRevision.map(String.init) ?? "-", meta.joined(separator: ","),
            ].joined(separator: " | ")
        }
    }

    static let accepted: [String] = [
        #"{"events": [\#(event())]}"#,
        " \n\t{ \"events\" :[ \(event()) , \(event()) ] } \r\n",
        #"{"client": {"name": "laptop", "n": [1, 2.5e-3, -0, true, false, null]}, "events": [\#(event())], "more": "x"}"#,
        #"{"events": [\#(event(extra: #", "expectedRevision": 0, "schemaVersion": 1, "stream": "article-\#(article)""#))]}"#,
        #"{"events": [\#(event(extra: #", "expectedRevision": null, "stream": null, "meta": null"#))]}"#,
        #"{"events": [\#(event(extra: #", "meta": {"client": "लैपटॉप", "correlationId": "c-1", "n": 5, "o": {"x": [1]}, "b": true}"#))]}"#,
        #"{"events": [\#(event(extra: #", "unknown": {"deep": [[[{"a": "\u0915\n\"q\"\\"}]]]}, "expectedRevision": 12345"#))]}"#,
        #"{"events": [\#(event(UUID().uuidString.uppercased()))]}"#,
        // Escapes and odd spacing inside data are the client's own text, kept as written.
        #"{"events": [\#(event(data: #"{ "articleId" : "\#(article)", "slug": "a\/b", "text": "line\nnext \u0915\u093c \t\"\\", "n": [1e10, -2.5, 0.0] }"#))]}"#,
    ]

    @Test func readsAcceptedBodiesAsJSONSerializationDoes() throws {
        for body in Self.accepted {
            let bytes = Array(body.utf8)
            let scanned = try #require(AppendBodyScanner.events(in: bytes, maxEvents: 100), "scanner refused: \(body)")
            let full = try AppendRequest.parseWithFoundation(bytes, maxEvents: 100)
            #expect(Self.summary(scanned) == Self.summary(full), "\(body)")
        }
    }

    /// Bodies it leaves to the full reader (which then gives the events or names the problem):
    /// escapes where a string is read, numbers that are not plain integers, repeated keys or
    /// ids, missing or ill-typed members, empty batches.
    static let handedOver: [String] = [
        #"{"events": [{"id": "\#(UUID().uuidString)", "type": "Article\u0043reated", "data": {}}]}"#,
        #"{"events": [\#(event(extra: #", "schemaVersion": 1.0"#))]}"#,
        #"{"events": [\#(event(extra: #", "expectedRevision": 1e1"#))]}"#,
        #"{"events": [\#(event(extra: #", "expectedRevision": -1"#))]}"#,
        #"{"events": [\#(event(extra: #", "meta": {"client": "tab\there"}"#))]}"#,
        #"{"events": [\#(event(extra: #", "meta": {"a": "1", "a": "2"}"#))]}"#,
        #"{"events": [\#(event(extra: #", "meta": [1]"#))]}"#,
        #"{"events": [\#(event(extra: #", "id": "\#(UUID().uuidString)""#))]}"#,
        #"{"events": [\#(event("11111111-1111-4111-8111-111111111111")), \#(event("11111111-1111-4111-8111-111111111111"))]}"#,
        #"{"events": [\#(event("not-a-uuid"))]}"#,
        #"{"events": [{"type": "ArticleCreated", "data": {}}]}"#,
        #"{"events": [{"id": "\#(UUID().uuidString)", "type": "", "data": {}}]}"#,
        #"{"events": [{"id": "\#(UUID().uuidString)", "type": "ArticleCreated", "data": []}]}"#,
        #"{"events": [42]}"#,
        #"{"events": []}"#,
        #"{"events": {}}"#,
        #"{"events": [\#(event())], "events": [\#(event())]}"#,
        #"{}"#,
        #"[]"#,
        #"{"events": [\#(event(data: #"{"s": "\ud800"}"#))]}"#,
        #"{"events": [\#(event(data: #"{"s": "\ud83c\udf27"}"#))]}"#,
        // Foundation's reader takes trailing commas; the scanner leaves them to it.
        #"{"events": [\#(event())],}"#,
        #"{"events": [\#(event()),]}"#,
    ]

    @Test func handsUnusualBodiesToTheFullReader() throws {
        for body in Self.handedOver {
            let bytes = Array(body.utf8)
            #expect(AppendBodyScanner.events(in: bytes, maxEvents: 100) == nil, "\(body)")
        }
        // Over the batch limit: the full reader answers 413.
        let three = Array(#"{"events": [\#(Self.event()), \#(Self.event()), \#(Self.event())]}"#.utf8)
        #expect(AppendBodyScanner.events(in: three, maxEvents: 2) == nil)
        #expect(AppendBodyScanner.events(in: three, maxEvents: 3)?.count == 3)
        let error = #expect(throws: APIError.self) { try AppendRequest.parse(ByteBuffer(bytes: three), maxEvents: 2) }
        #expect(error?.status == .contentTooLarge)
    }

    /// Malformed JSON is never accepted: the full reader refuses it with 400.
    static let malformed: [String] = [
        #"{'events': []}"#,
        #"{"events": [\#(event(extra: #", "expectedRevision": 01"#))]}"#,
        #"{"events": [\#(event(data: #"{"n": 1.}"#))]}"#,
        #"{"events": [\#(event(data: #"{"n": .5}"#))]}"#,
        #"{"events": [\#(event(data: #"{"n": +1}"#))]}"#,
        #"{"events": [\#(event(data: #"{"n": 1e}"#))]}"#,
        #"{"events": [\#(event(data: #"{"n": NaN}"#))]}"#,
        #"{"events": [\#(event(data: #"{"n": tru}"#))]}"#,
        #"{"events": [\#(event(data: #"{"s": "a\qb"}"#))]}"#,
        #"{"events": [\#(event(data: #"{"s": "\u12G4"}"#))]}"#,
        "{\"events\": [\(event(data: "{\"s\": \"raw\ttab\"}"))]}",
        #"{"events": [\#(event(data: #"{"a" 1}"#))]}"#,
        #"{"events": [\#(event(data: #"{"a": 1 "b": 2}"#))]}"#,
        #"{"events": [\#(event(data: #"{a: 1}"#))]}"#,
        #"{"events": [\#(event())]} x"#,
        #"{"events": [\#(event())]"#,
        #"{"events": [\#(event()) /* note */]}"#,
        "",
    ]

    @Test func neverAcceptsMalformedJSON() throws {
        for body in Self.malformed {
            let bytes = Array(body.utf8)
            #expect(AppendBodyScanner.events(in: bytes, maxEvents: 100) == nil, "\(body)")
            let error = #expect(throws: APIError.self, "\(body)") { try AppendRequest.parse(ByteBuffer(bytes: bytes), maxEvents: 100) }
            #expect(error?.status == .badRequest, "\(body)")
        }
        // Nesting past the scanner's depth goes to the full reader.
        let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        #expect(AppendBodyScanner.events(in: Array(#"{"events": [\#(Self.event(data: #"{"d": \#(deep)}"#))]}"#.utf8), maxEvents: 100) == nil)
        let fine = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(AppendBodyScanner.events(in: Array(#"{"events": [\#(Self.event(data: #"{"d": \#(fine)}"#))]}"#.utf8), maxEvents: 100) != nil)
    }

    @Test func readsUUIDsInEitherCase() {
        let id = UUID()
        #expect(AppendBodyScanner.uuid(id.uuidString) == id)
        #expect(AppendBodyScanner.uuid(id.uuidString.lowercased()) == id)
        #expect(AppendBodyScanner.uuid("0b6f1c2e-4d3a-4f5e-9a7b-1c2d3e4f5a6") == nil)
        #expect(AppendBodyScanner.uuid("0b6f1c2e+4d3a-4f5e-9a7b-1c2d3e4f5a6b") == nil)
        #expect(AppendBodyScanner.uuid("0b6f1c2e-4d3a-4f5e-9a7b-1c2d3e4f5a6g") == nil)
    }
}
