import FolioCore
import Foundation
import NIOCore

/// One event of a `POST /v1/events` body, parsed but not yet judged (SPEC §5).
struct IncomingEvent: Sendable {
    /// Position in the batch (0-based).
    var index: Int
    var id: UUID
    var type: String
    var schemaVersion: Int
    /// The event's `data` object as JSON: the client's own text of it when the body could be
    /// read for it (``EventDataLocator``), else re-serialized.
    var data: Data
    /// The stream the client named, if any (it must match the one derived from the data).
    var stream: String?
    var expectedRevision: Int64?
    /// The client's `meta` object, if any.
    var meta: [String: any Sendable]

    /// Key under which this event's problems are reported in `error.details`.
    var key: String { id.lowercasedString }
}

/// Parses the body of `POST /v1/events`: `{"events": [{"id", "type", "data", "expectedRevision"?, "meta"?, "stream"?, "schemaVersion"?}]}`.
///
/// A well-formed body is read in one pass by ``AppendBodyScanner``; anything it does not
/// accept is read again by `JSONSerialization`, which names the problem.
enum AppendRequest {
    static func parse(_ body: ByteBuffer, maxEvents: Int) throws(APIError) -> [IncomingEvent] {
        let raw = Array(body.readableBytesView)
        guard String(validating: raw, as: UTF8.self) != nil else {
            throw APIError(status: .badRequest, code: "invalid-utf8", message: "the request body is not valid UTF-8")
        }
        if let events = AppendBodyScanner.events(in: raw, maxEvents: maxEvents) { return events }
        return try parseWithFoundation(raw, maxEvents: maxEvents)
    }

    /// The full reader: `JSONSerialization`, for any body, naming each problem it finds.
    static func parseWithFoundation(_ raw: [UInt8], maxEvents: Int) throws(APIError) -> [IncomingEvent] {
        let bytes = Data(raw)
        let root: Any
        do {
            root = try JSONSerialization.jsonObject(with: bytes, options: [.fragmentsAllowed])
        } catch {
            throw APIError(status: .badRequest, code: "malformed-json", message: "the request body is not JSON", details: ["reason": "\(error.localizedDescription)"])
        }
        guard let object = root as? [String: Any], let list = object["events"] as? [Any] else {
            throw APIError(status: .badRequest, code: "malformed-request", message: #"the body must be {"events": [...]}"#)
        }
        guard !list.isEmpty else {
            throw APIError(status: .unprocessableContent, code: "empty-batch", message: "the batch has no events")
        }
        guard list.count <= maxEvents else {
            throw APIError(
                status: .contentTooLarge, code: "batch-too-large", message: "at most \(maxEvents) events per request",
                details: ["events": String(list.count), "limit": String(maxEvents)])
        }
        // Each event's data as the client wrote it, when it can be found in the body; else the
        // parsed object is serialized again.
        let dataRanges = EventDataLocator.dataRanges(in: raw).flatMap { $0.count == list.count ? $0 : nil }
        var events: [IncomingEvent] = []
        var problems: [String: String] = [:]
        var seen: Set<UUID> = []
        for (index, element) in list.enumerated() {
            let slot = "events[\(index)]"
            guard let item = element as? [String: Any] else {
                problems[slot] = "each event must be a JSON object"
                continue
            }
            guard let idText = item["id"] as? String, let id = UUID(uuidString: idText) else {
                problems[slot] = "\"id\" must be a UUID"
                continue
            }
            let key = id.uuidString.lowercased()
            guard seen.insert(id).inserted else {
                problems[key] = "the id appears twice in the batch"
                continue
            }
            guard let type = item["type"] as? String, !type.isEmpty else {
                problems[key] = "\"type\" must be a non-empty string"
                continue
            }
            guard let data = item["data"] as? [String: Any] else {
                problems[key] = "\"data\" must be a JSON object"
                continue
            }
            var schemaVersion = FolioEvent.currentSchemaVersion
            if let given = item["schemaVersion"] {
                guard let number = integer(given) else {
                    problems[key] = "\"schemaVersion\" must be an integer"
                    continue
                }
                schemaVersion = Int(number)
            }
            var expected: Int64?
            if let given = item["expectedRevision"], !(given is NSNull) {
                guard let number = integer(given), number >= 0 else {
                    problems[key] = "\"expectedRevision\" must be an integer ≥ 0"
                    continue
                }
                expected = number
            }
            var stream: String?
            if let given = item["stream"], !(given is NSNull) {
                guard let text = given as? String else {
                    problems[key] = "\"stream\" must be a string"
                    continue
                }
                stream = text
            }
            var meta: [String: any Sendable] = [:]
            if let given = item["meta"], !(given is NSNull) {
                guard let object = given as? [String: Any] else {
                    problems[key] = "\"meta\" must be a JSON object"
                    continue
                }
                for (name, value) in object {
                    if let text = value as? String { meta[name] = text }
                }
            }
            let dataJSON: Data
            if let range = dataRanges?[index] {
                dataJSON = Data(raw[range])
            } else if let serialized = try? JSONSerialization.data(withJSONObject: data, options: [.sortedKeys]) {
                dataJSON = serialized
            } else {
                problems[key] = "\"data\" cannot be read"
                continue
            }
            events.append(IncomingEvent(
                index: index, id: id, type: type, schemaVersion: schemaVersion, data: dataJSON, stream: stream,
                expectedRevision: expected, meta: meta))
        }
        guard problems.isEmpty else {
            throw APIError(status: .unprocessableContent, code: "invalid-events", message: "some events are invalid; nothing was stored", details: problems)
        }
        return events
    }

    /// An integral JSON number (not a Bool, which JSONSerialization also hands out as NSNumber).
    static func integer(_ value: Any) -> Int64? {
        guard let number = value as? NSNumber, String(cString: number.objCType) != "c" else { return nil }
        let double = number.doubleValue
        guard double.rounded() == double, abs(double) < 9e15 else { return nil }
        return number.int64Value
    }
}
