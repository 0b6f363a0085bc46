/// Evolves stored events on read, so old events in the log never need rewriting.
///
/// An upcaster turns an event of one `(type, schema version)` into the next shape (possibly
/// under a new type name). The registry applies them repeatedly until no upcaster matches, on
/// every read path of the store (stream reads, log reads, subscriptions), so the sync
/// endpoint, the projector and replays all see current shapes.
public struct UpcasterRegistry: Sendable {
    /// One step: data of `(type, schemaVersion)` to a new type, version and data.
    public typealias Step = @Sendable (JSONValue) throws -> (type: String, schemaVersion: Int, data: JSONValue)

    private struct Key: Hashable {
        var type: String
        var schemaVersion: Int
    }

    private var steps: [Key: Step] = [:]

    public init() {}

    /// Registers the step applied to events of `type` at `schemaVersion`.
    public mutating func register(type: String, schemaVersion: Int, _ step: @escaping Step) {
        steps[Key(type: type, schemaVersion: schemaVersion)] = step
    }

    /// Whether an event of this type and version would be changed.
    public func upcasts(type: String, schemaVersion: Int) -> Bool {
        steps[Key(type: type, schemaVersion: schemaVersion)] != nil
    }

    /// Applies every matching step to `event`.
    public func upcast(_ event: RecordedEvent) throws -> RecordedEvent {
        guard upcasts(type: event.type, schemaVersion: event.schemaVersion) else { return event }
        var event = event
        var data = try JSONValue(json: event.data)
        var applied = 0
        while let step = steps[Key(type: event.type, schemaVersion: event.schemaVersion)] {
            let next = try step(data)
            event.type = next.type
            event.schemaVersion = next.schemaVersion
            data = next.data
            applied += 1
            precondition(applied < 100, "upcasters for \(event.type) loop")
        }
        event.data = data.jsonText
        return event
    }

    /// The upcasters Folio ships.
    public static let standard: UpcasterRegistry = {
        var registry = UpcasterRegistry()
        registry.register(type: "AnnotationCreated", schemaVersion: 1, LegacyAnnotation.upcast)
        return registry
    }()
}

/// Early prototype clients recorded annotations as `AnnotationCreated` (schema 1) with
/// `{annotationId, articleId, revision, start, end, quote, note, tags?}`. They become SPEC's
/// `AnnotationAdded` (schema 1): `target{start, end, exact, prefix, suffix}`, `body`, `tags`,
/// `motivation`.
enum LegacyAnnotation {
    static func upcast(_ data: JSONValue) throws -> (type: String, schemaVersion: Int, data: JSONValue) {
        guard case .object(let old) = data else { return ("AnnotationAdded", 1, data) }
        var new: [String: JSONValue] = [:]
        new["annotationId"] = old["annotationId"] ?? .null
        new["articleId"] = old["articleId"] ?? .null
        new["revision"] = old["revision"] ?? .number(1)
        new["target"] = .object([
            "start": old["start"] ?? .number(0),
            "end": old["end"] ?? .number(0),
            "exact": old["quote"] ?? .string(""),
            "prefix": .string(""),
            "suffix": .string(""),
        ])
        new["body"] = old["note"] ?? .string("")
        new["tags"] = old["tags"] ?? .array([])
        new["motivation"] = .string("commenting")
        return ("AnnotationAdded", 1, .object(new))
    }
}
