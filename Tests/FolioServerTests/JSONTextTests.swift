@testable import FolioServer
import FolioTestSupport
import Foundation
import NIOCore
import Testing

/// The hand-written JSON of the append path: finding each event's `data` in a request body,
/// and writing metadata objects. Both are checked against Foundation's own reading.
@Suite("Hand-written JSON")
struct JSONTextTests {
    /// The located text of each `data`, parsed, equals what JSONSerialization parsed.
    private func expectLocatedDataMatches(_ body: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let bytes = Array(body.utf8)
        let ranges = try #require(EventDataLocator.dataRanges(in: bytes), sourceLocation: sourceLocation)
        let root = try #require(JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        let events = try #require(root["events"] as? [Any])
        #expect(ranges.count == events.count, sourceLocation: sourceLocation)
        for (event, range) in zip(events, ranges) {
            let expected = (event as? [String: Any])?["data"]
            guard let range else {
                #expect(expected == nil, sourceLocation: sourceLocation)
                continue
            }
            let located = try JSONSerialization.jsonObject(with: Data(bytes[range]), options: [.fragmentsAllowed])
            let canonical = { (value: Any) in try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed]) }
            #expect(try canonical(located) == canonical(try #require(expected)), sourceLocation: sourceLocation)
        }
    }

    @Test func locatesEachEventsDataAsTheClientWroteIt() throws {
        let body = #"{"events": [{"id": "1", "type": "ArticleEdited", "data": {"ops": [3, "क़ ज़ ख़ — \"quoted\" {not an object} [nor, an array]", -2], "baseRevision": 2}}, {"data":{"text":"क्ष त्र।\n😀 \\ \u0041"},"id":"2"}]}"#
        try expectLocatedDataMatches(body)
        let ranges = try #require(EventDataLocator.dataRanges(in: Array(body.utf8)))
        let first = try #require(ranges[0])
        #expect(String(decoding: Array(body.utf8)[first], as: UTF8.self)
            == #"{"ops": [3, "क़ ज़ ख़ — \"quoted\" {not an object} [nor, an array]", -2], "baseRevision": 2}"#)
    }

    @Test func whitespaceOtherMembersAndEventsWithoutData() throws {
        try expectLocatedDataMatches("{ \"meta\" : {\"a\": [1, 2.5e3, true, null]},\n\t\"events\" :\r\n [ {\"id\":\"x\"} , 7, \"s\", [ ], {\"data\": { } }, {\"data\": [ ] , \"meta\": {\"k\": \"}\"} } ] , \"z\": false }")
        try expectLocatedDataMatches(#"{"events": []}"#)
    }

    @Test func answersNilWhereItCouldReadOtherwiseThanFoundation() {
        // An escaped key, a repeated `data` or `events`, and bodies of other shapes: the caller
        // falls back to re-serializing what JSONSerialization parsed.
        #expect(EventDataLocator.dataRanges(in: Array(#"{"events": [{"d\u0061ta": {"a": 1}}]}"#.utf8)) == nil)
        #expect(EventDataLocator.dataRanges(in: Array(#"{"events": [{"data": {"a": 1}, "data": {"a": 2}}]}"#.utf8)) == nil)
        #expect(EventDataLocator.dataRanges(in: Array(#"{"events": [], "events": [{"data": 1}]}"#.utf8)) == nil)
        #expect(EventDataLocator.dataRanges(in: Array(#"[{"events": []}]"#.utf8)) == nil)
        #expect(EventDataLocator.dataRanges(in: Array(#"{"events": {"data": 1}}"#.utf8)) == nil)
        #expect(EventDataLocator.dataRanges(in: Array(#"{"events": [{"data": 1}"#.utf8)) == nil)
        // Nesting deeper than the locator follows: nil, not a stack overflow.
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(EventDataLocator.dataRanges(in: Array(#"{"events": [{"data": \#(deep)}]}"#.utf8)) == nil)
    }

    @Test func randomBodiesAgreeWithJSONSerialization() throws {
        var random = SplitMix64(seed: 0x5EED_0F_F011)
        let words = ["क़", "क़", "क्ष", "त्र", "नमस्ते।", "😀", "\"", "\\", "{", "]", ",", ":", "\n", "\t", " ", "caption", "\u{0001}"]
        func text() -> String { (0..<Int(random.next() % 5)).map { _ in words[Int(random.next() % UInt64(words.count))] }.joined() }
        func value(_ depth: Int) -> Any {
            switch random.next() % (depth > 2 ? 4 : 6) {
            case 0: return text()
            case 1: return Int(random.next() % 1000) - 500
            case 2: return random.next() % 2 == 0
            case 3: return NSNull()
            case 4: return (0..<Int(random.next() % 4)).map { _ in value(depth + 1) }
            default: return Dictionary((0..<Int(random.next() % 4)).map { i in ("\(text())\(i)", value(depth + 1)) }, uniquingKeysWith: { a, _ in a })
            }
        }
        for _ in 0..<300 {
            let events: [Any] = (0..<Int(1 + random.next() % 4)).map { _ in
                var event: [String: Any] = ["id": UUID().uuidString, "type": text()]
                if random.next() % 5 != 0 { event["data"] = value(0) }
                if random.next() % 2 == 0 { event["meta"] = ["client": text()] }
                return event
            }
            let options: JSONSerialization.WritingOptions = random.next() % 2 == 0 ? [.prettyPrinted] : []
            let body = try JSONSerialization.data(withJSONObject: ["events": events, "other": value(1)], options: options)
            try expectLocatedDataMatches(String(decoding: body, as: UTF8.self))
        }
    }

    @Test func metadataObjectsAreSortedAndEscaped() throws {
        let members = ["client": "priya's laptop \"2\"", "author": "priya", "correlationId": "a\\b\nc\u{0001}", "z": "क़ 😀"]
        let text = JSONText.object(members)
        #expect(text.hasPrefix(#"{"author":"priya","client":"#))
        #expect(text.contains(#"\u0001"#))
        let parsed = try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String])
        #expect(parsed == members)
        #expect(JSONText.object([:]) == "{}")
        for author in ["priya", "प्रिया \"संपादक\"", "tab\tand\\"] {
            #expect(JSONText.object(author: author) == JSONText.object(["author": author]))
        }
    }
}
