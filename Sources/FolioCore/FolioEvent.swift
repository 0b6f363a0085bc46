import Foundation

/// Any event of SPEC §3, schema version 1.
public enum FolioEvent: Sendable, Hashable {
    case articleCreated(ArticleCreated)
    case articleEdited(ArticleEdited)
    case articleRetitled(ArticleRetitled)
    case articleArchived(ArticleArchived)
    case editConflicted(EditConflicted)
    case annotationAdded(AnnotationAdded)
    case annotationUpdated(AnnotationUpdated)
    case annotationDeleted(AnnotationDeleted)

    /// The schema version this code writes and reads for every type (upcasters bring older
    /// ones up to it before decoding).
    public static let currentSchemaVersion = 1

    /// Every event type, as stored in the log.
    public static let types: [String] = [
        ArticleCreated.eventType, ArticleEdited.eventType, ArticleRetitled.eventType, ArticleArchived.eventType,
        EditConflicted.eventType, AnnotationAdded.eventType, AnnotationUpdated.eventType, AnnotationDeleted.eventType,
    ]

    /// Known schema versions per type.
    public static func knownSchemaVersions(of type: String) -> [Int] {
        types.contains(type) ? [1] : []
    }

    /// Decodes and validates event data from the log or a client.
    ///
    /// Text fields are normalized to NFC. Errors name what is wrong: an unknown type or
    /// version, data that is no JSON object, a missing or wrongly typed field (as a dotted
    /// path such as `target.start`), or a value that fails validation.
    public static func decode(type: String, schemaVersion: Int, data: Data) throws(EventValidationError) -> FolioEvent {
        let known = knownSchemaVersions(of: type)
        guard !known.isEmpty else { throw .unknownType(type) }
        guard known.contains(schemaVersion) else { throw .unknownSchemaVersion(type: type, version: schemaVersion, known: known) }
        let event: FolioEvent
        switch type {
        case ArticleCreated.eventType: event = .articleCreated(try decodeData(ArticleCreated.self, data))
        case ArticleEdited.eventType: event = .articleEdited(try decodeData(ArticleEdited.self, data))
        case ArticleRetitled.eventType: event = .articleRetitled(try decodeData(ArticleRetitled.self, data))
        case ArticleArchived.eventType: event = .articleArchived(try decodeData(ArticleArchived.self, data))
        case EditConflicted.eventType: event = .editConflicted(try decodeData(EditConflicted.self, data))
        case AnnotationAdded.eventType: event = .annotationAdded(try decodeData(AnnotationAdded.self, data))
        case AnnotationUpdated.eventType: event = .annotationUpdated(try decodeData(AnnotationUpdated.self, data))
        case AnnotationDeleted.eventType: event = .annotationDeleted(try decodeData(AnnotationDeleted.self, data))
        default: throw .unknownType(type)
        }
        return event
    }

    /// `decode` from JSON text.
    ///
    /// The common types are read by ``FastEventDecoder`` (the same values as `JSONDecoder`,
    /// then the same validation); anything it does not read goes to `JSONDecoder`.
    public static func decode(type: String, schemaVersion: Int, json: String) throws(EventValidationError) -> FolioEvent {
        if schemaVersion == currentSchemaVersion, let event = FastEventDecoder.decode(type: type, json: json) {
            try event.validate()
            return event
        }
        return try decode(type: type, schemaVersion: schemaVersion, data: Data(json.utf8))
    }

    /// `validate()` of the data, without boxing it.
    private func validate() throws(EventValidationError) {
        switch self {
        case .articleCreated(let data): try data.validate()
        case .articleEdited(let data): try data.validate()
        case .articleRetitled(let data): try data.validate()
        case .articleArchived(let data): try data.validate()
        case .editConflicted(let data): try data.validate()
        case .annotationAdded(let data): try data.validate()
        case .annotationUpdated(let data): try data.validate()
        case .annotationDeleted(let data): try data.validate()
        }
    }

    private static func decodeData<T: FolioEventData>(_: T.Type, _ data: Data) throws(EventValidationError) -> T {
        let value: T
        do {
            value = try JSONDecoder().decode(T.self, from: data)
        } catch let error as DecodingError {
            throw describe(error)
        } catch {
            throw .malformedJSON(String(describing: error))
        }
        let normalized = value.normalized
        try normalized.validate()
        return normalized
    }

    private static func path(_ codingPath: [any CodingKey], _ last: (any CodingKey)? = nil) -> String {
        var text = ""
        for key in codingPath + (last.map { [$0] } ?? []) {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return text
    }

    private static func describe(_ error: DecodingError) -> EventValidationError {
        switch error {
        case .keyNotFound(let key, let context):
            return .missingField(path(context.codingPath, key))
        case .valueNotFound(_, let context):
            return .missingField(path(context.codingPath))
        case .typeMismatch(let type, let context):
            let field = path(context.codingPath)
            if field.isEmpty { return .malformedJSON("expected a JSON object") }
            return .wrongType(field: field, expected: jsonTypeName(type))
        case .dataCorrupted(let context):
            let field = path(context.codingPath)
            if field.isEmpty { return .malformedJSON(context.debugDescription) }
            return .invalidField(field: field, reason: context.debugDescription)
        @unknown default:
            return .malformedJSON(String(describing: error))
        }
    }

    private static func jsonTypeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Int.Type, is Double.Type: return "a number"
        case is Bool.Type: return "a boolean"
        case is [Any].Type: return "an array"
        default: return "a JSON \(type)"
        }
    }

    /// The event's data.
    public var data: any FolioEventData {
        switch self {
        case .articleCreated(let data): return data
        case .articleEdited(let data): return data
        case .articleRetitled(let data): return data
        case .articleArchived(let data): return data
        case .editConflicted(let data): return data
        case .annotationAdded(let data): return data
        case .annotationUpdated(let data): return data
        case .annotationDeleted(let data): return data
        }
    }

    /// The event type, e.g. `ArticleEdited`.
    public var type: String { Swift.type(of: data).eventType }

    /// Always `currentSchemaVersion` (1).
    public var schemaVersion: Int { Self.currentSchemaVersion }

    /// The stream the event belongs to: `article-<uuid>` or `annotation-<uuid>`, lower-cased.
    public var streamID: String {
        switch self {
        case .articleCreated(let e): return Self.articleStream(e.articleId)
        case .articleEdited(let e): return Self.articleStream(e.articleId)
        case .articleRetitled(let e): return Self.articleStream(e.articleId)
        case .articleArchived(let e): return Self.articleStream(e.articleId)
        case .editConflicted(let e): return Self.articleStream(e.articleId)
        case .annotationAdded(let e): return Self.annotationStream(e.annotationId)
        case .annotationUpdated(let e): return Self.annotationStream(e.annotationId)
        case .annotationDeleted(let e): return Self.annotationStream(e.annotationId)
        }
    }

    /// The article the event is about, when its data says (annotation updates and deletes
    /// name only the annotation).
    public var articleId: UUID? {
        switch self {
        case .articleCreated(let e): return e.articleId
        case .articleEdited(let e): return e.articleId
        case .articleRetitled(let e): return e.articleId
        case .articleArchived(let e): return e.articleId
        case .editConflicted(let e): return e.articleId
        case .annotationAdded(let e): return e.articleId
        case .annotationUpdated, .annotationDeleted: return nil
        }
    }

    /// `article-<uuid lower-cased>`.
    public static func articleStream(_ id: UUID) -> String { "article-" + id.lowercasedString }
    /// `annotation-<uuid lower-cased>`.
    public static func annotationStream(_ id: UUID) -> String { "annotation-" + id.lowercasedString }

    /// The data as stable JSON: sorted keys, no escaped slashes, UUIDs lower-cased, times RFC 3339.
    public func encodedData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(data)
    }

    /// `encodedData()` as text (written by hand for the most frequent types, see
    /// ``EventDataJSON``).
    public func jsonText() throws -> String {
        if let text = EventDataJSON.text(for: self) { return text }
        return String(decoding: try encodedData(), as: UTF8.self)
    }
}
