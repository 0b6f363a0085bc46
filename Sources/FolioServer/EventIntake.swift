import Crypto
import FolioCore
import FolioStore
import Foundation
import Hummingbird
import LibPQ
import Logging

/// One event's answer in `POST /v1/events` (SPEC §5, §9).
struct AppendResult: Encodable, Sendable {
    enum Status: String, Encodable, Sendable {
        case appended, duplicate, transformed, conflicted
    }

    var id: String
    var status: Status
    var stream: String
    var revision: Int64
    var position: Int64
    /// The ops actually applied, for `transformed`.
    var ops: TextEdit?
}

/// Judges a batch of incoming events and appends it atomically (SPEC §4, §5, §9).
///
/// For each event, in order: a re-sent event id is answered from the log (G3: `duplicate`, or
/// `conflicted` for an edit that was recorded as a conflict); the role is checked; the data is
/// decoded and validated by the core (NFC, fields, offsets on grapheme boundaries of the text
/// they refer to); an `ArticleEdited` against an older revision is merged with the core's rule
/// (`transformed`) or recorded as an `EditConflicted` (`conflicted`); the author is stamped from
/// the token. Later events of the batch see the effect of earlier ones. If any event is
/// refused, nothing is stored and every reason is reported. The batch is appended in one call
/// that states the revision each article was judged at, so a concurrent writer makes the call
/// fail and the batch is judged again.
struct EventIntake: Sendable {
    let store: EventStore
    let articles: ArticleCache
    let logger: Logger
    /// Times a batch is judged again after losing a race with another writer.
    var attempts = 5

    /// What the batch would append, and the answers to give once it is stored.
    fileprivate struct Plan {
        var events: [NewEvent] = []
        /// Per incoming event: its answer, or the index into `events` whose outcome it gets.
        var answers: [Answer] = []
        /// Events whose expected revision the client stated (a mismatch is the client's 409).
        var clientExpectations: Set<UUID> = []
    }

    fileprivate enum Answer {
        case known(AppendResult)
        /// The outcome of `events[eventIndex]`, answered under `id` (the client's event id).
        case pending(eventIndex: Int, id: UUID, status: AppendResult.Status, ops: TextEdit?)
    }

    /// A refusal of one event: the HTTP status it calls for and the reason.
    private struct Refusal {
        var status: HTTPStatusKind
        var reason: String
    }

    enum HTTPStatusKind: Int, Comparable {
        case invalid = 1, notFound, conflict, forbidden
        static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    func append(_ incoming: [IncomingEvent], as identity: Identity) async throws -> [AppendResult] {
        var attempt = 0
        while true {
            attempt += 1
            // The first attempt trusts the store for what it checks itself (an id stored
            // before, a stream that must not exist yet); a refusal of that kind makes the second
            // attempt look everything up and name the reason.
            let plan = try await judge(incoming, as: identity, thorough: attempt > 1)
            if plan.events.isEmpty { return finish(plan, outcomes: []) }
            do {
                let outcomes = try await store.append(plan.events)
                return finish(plan, outcomes: outcomes)
            } catch let rejection as AppendRejection {
                let lostRace = rejection.reasons.allSatisfy { id, reason in
                    if case .wrongExpectedRevision = reason { return !plan.clientExpectations.contains(id) }
                    return reason == .notAttempted || reason == .eventIDReused
                }
                guard lostRace, attempt < attempts else { throw Self.apiError(rejection) }
                logger.debug("append lost a race; judging the batch again", metadata: ["attempt": "\(attempt)"])
            }
        }
    }

    private func finish(_ plan: Plan, outcomes: [AppendOutcome]) -> [AppendResult] {
        plan.answers.map { answer in
            switch answer {
            case .known(let result):
                return result
            case .pending(let index, let id, let status, let ops):
                let outcome = outcomes[index]
                return AppendResult(
                    id: id.lowercasedString, status: outcome.status == .duplicate ? .duplicate : status,
                    stream: outcome.stream, revision: outcome.revision, position: outcome.position, ops: status == .transformed ? ops : nil)
            }
        }
    }

    // MARK: - Judging

    private func judge(_ incoming: [IncomingEvent], as identity: Identity, thorough: Bool) async throws -> Plan {
        // A re-sent edit must be recognised before it is merged again (its answer may differ
        // now); other re-sent events the store recognises by itself (G3).
        let lookedUp = thorough ? incoming : incoming.filter { $0.type == ArticleEdited.eventType }
        let stored = try await store.events(withIDs: lookedUp.map(\.id) + lookedUp.map { Self.conflictID(for: $0.id) })
        var plan = Plan()
        var refusals: [String: Refusal] = [:]
        var histories: [UUID: ArticleHistory?] = [:]
        // Articles this batch creates, made into histories only when a later event of the
        // batch needs one (building one segments the whole text into grapheme clusters).
        var createdHere: [UUID: ArticleCreated] = [:]
        var annotations: [UUID: AnnotationRecord?] = [:]
        let now = Date()

        func history(_ article: UUID) async throws -> ArticleHistory? {
            if let created = createdHere.removeValue(forKey: article) {
                let made = ArticleHistory(created: created, recordedAt: now)
                histories[article] = .some(made)
                return made
            }
            if let known = histories[article] { return known }
            let loaded = try await articles.history(of: article)
            histories[article] = loaded
            return loaded
        }

        for event in incoming {
            let key = event.key
            func refuse(_ status: HTTPStatusKind, _ reason: String) { refusals[key] = Refusal(status: status, reason: reason) }

            let decoded: FolioEvent
            do {
                // From text, so the core's hand-written decoder reads the common shapes (the
                // same values as JSONDecoder, which still reads anything else and names errors).
                decoded = try FolioEvent.decode(type: event.type, schemaVersion: event.schemaVersion, json: String(decoding: event.data, as: UTF8.self))
            } catch {
                refuse(.invalid, error.description)
                continue
            }
            // G3: an id already in the log.
            if let original = stored[event.id] {
                if let same = try? FolioEvent.decode(type: original.type, schemaVersion: original.schemaVersion, json: original.data), same == decoded {
                    plan.answers.append(.known(AppendResult(
                        id: key, status: .duplicate, stream: original.stream, revision: original.revision, position: original.position)))
                } else {
                    refuse(.conflict, "event-id-reused: this id was stored before with another type or data")
                }
                continue
            }
            if case .articleEdited = decoded, let conflict = stored[Self.conflictID(for: event.id)] {
                plan.answers.append(.known(AppendResult(
                    id: key, status: .conflicted, stream: conflict.stream, revision: conflict.revision, position: conflict.position)))
                continue
            }
            if let stream = event.stream, stream != decoded.streamID {
                refuse(.invalid, "wrong-stream: a \(event.type) with this data belongs to \(decoded.streamID), not \(stream)")
                continue
            }
            if let required = Self.requiredRole(decoded), identity.role < required {
                refuse(.forbidden, "forbidden: \(event.type) needs role \(required.rawValue); the token has \(identity.role.rawValue)")
                continue
            }
            let meta = Self.metadata(event, author: identity.name)
            do {
                switch decoded {
                case .articleCreated(let created):
                    if thorough, try await history(created.articleId) != nil {
                        refuse(.conflict, "article-exists: article \(created.articleId.uuidString.lowercased()) exists")
                        continue
                    }
                    if let expected = event.expectedRevision, expected != 0 {
                        refuse(.conflict, "wrong-expected-revision: expected \(expected), the article does not exist yet")
                        continue
                    }
                    createdHere[created.articleId] = created
                    plan.add(event, decoded, meta: meta, article: created.articleId, expected: 0, status: .appended)

                case .articleEdited(let edited):
                    guard var article = try await history(edited.articleId) else {
                        refuse(.notFound, "unknown-article: no article \(edited.articleId.uuidString.lowercased())")
                        continue
                    }
                    guard edited.baseRevision >= 1, edited.baseRevision <= article.revision else {
                        refuse(.invalid, "invalid-base-revision: baseRevision \(edited.baseRevision) is not in 1...\(article.revision)")
                        continue
                    }
                    let head = Int64(article.revision)
                    switch try article.merge(edit: edited.ops, baseRevision: edited.baseRevision) {
                    case .applied:
                        try article.append(decoded, revision: article.revision + 1, recordedAt: now)
                        plan.add(event, decoded, meta: meta, article: edited.articleId, expected: head, status: .appended)
                    case .transformed(let ops):
                        try article.append(decoded, revision: article.revision + 1, recordedAt: now)
                        plan.add(event, decoded, meta: meta, article: edited.articleId, expected: head, status: .transformed, ops: ops)
                    case .conflicted(let revisions):
                        let record = FolioEvent.editConflicted(EditConflicted(
                            articleId: edited.articleId, baseRevision: edited.baseRevision, ops: edited.ops, conflictsWith: revisions,
                            rejectedEventId: event.id))
                        try article.append(record, revision: article.revision + 1, recordedAt: now)
                        var conflictEvent = event
                        conflictEvent.id = Self.conflictID(for: event.id)
                        plan.add(conflictEvent, record, meta: meta, article: edited.articleId, expected: head, status: .conflicted, answerID: event.id)
                    }
                    histories[edited.articleId] = .some(article)

                case .articleRetitled(let retitled):
                    try await changeArticle(retitled.articleId)
                case .articleArchived(let archived):
                    try await changeArticle(archived.articleId)

                case .editConflicted:
                    refuse(.invalid, "server-only-type: EditConflicted is recorded by the server, not sent by clients")

                case .annotationAdded(let added):
                    guard let article = try await history(added.articleId) else {
                        refuse(.notFound, "unknown-article: no article \(added.articleId.uuidString.lowercased())")
                        continue
                    }
                    guard added.revision >= 1, added.revision <= article.revision else {
                        refuse(.invalid, "invalid-revision: revision \(added.revision) is not in 1...\(article.revision)")
                        continue
                    }
                    try added.target.validate(in: article.state(at: added.revision).content)
                    let exists: Bool
                    if annotations[added.annotationId] != nil {
                        exists = true
                    } else {
                        exists = thorough ? try await annotation(added.annotationId) != nil : false
                    }
                    if exists {
                        refuse(.conflict, "annotation-exists: annotation \(added.annotationId.uuidString.lowercased()) exists")
                        continue
                    }
                    annotations[added.annotationId] = .some(AnnotationRecord(articleID: added.articleId, author: identity.name, revision: 1, deleted: false))
                    plan.add(event, decoded, meta: meta, article: added.articleId, expected: 0, status: .appended)

                case .annotationUpdated(let updated):
                    try await changeAnnotation(updated.annotationId, deleting: false)
                case .annotationDeleted(let deleted):
                    try await changeAnnotation(deleted.annotationId, deleting: true)
                }
            } catch let error as EventValidationError {
                refuse(.invalid, error.description)
            } catch let error as EditError {
                refuse(.invalid, "invalid-edit: \(error.description)")
            } catch let error as ArticleStateError {
                refuse(.invalid, "invalid-edit: \(error.description)")
            }

            /// Retitle or archive: the client's expected revision, if any, must be the current one.
            func changeArticle(_ id: UUID) async throws {
                guard var article = try await history(id) else {
                    refuse(.notFound, "unknown-article: no article \(id.uuidString.lowercased())")
                    return
                }
                let head = Int64(article.revision)
                if let expected = event.expectedRevision, expected != head {
                    refuse(.conflict, "wrong-expected-revision: expected \(expected), the article is at \(head)")
                    return
                }
                try article.append(decoded, revision: article.revision + 1, recordedAt: now)
                histories[id] = .some(article)
                plan.add(event, decoded, meta: meta, article: id, expected: head, status: .appended)
                if event.expectedRevision != nil { plan.clientExpectations.insert(event.id) }
            }

            /// Update or delete: the annotation must exist and not be deleted; an annotator
            /// may change only its own.
            func changeAnnotation(_ id: UUID, deleting: Bool) async throws {
                let known: AnnotationRecord?
                if let cached = annotations[id] { known = cached } else { known = try await annotation(id) }
                guard var record = known, !record.deleted else {
                    refuse(.notFound, "unknown-annotation: no annotation \(id.uuidString.lowercased())\(known?.deleted == true ? " (it was deleted)" : "")")
                    return
                }
                if identity.role < .editor, record.author != identity.name {
                    refuse(.forbidden, "forbidden: an annotator may change only its own annotations; this one is \(record.author)'s")
                    return
                }
                let head = record.revision
                if let expected = event.expectedRevision, expected != head {
                    refuse(.conflict, "wrong-expected-revision: expected \(expected), the annotation is at \(head)")
                    return
                }
                record.revision += 1
                record.deleted = deleting
                annotations[id] = .some(record)
                plan.add(event, decoded, meta: meta, article: record.articleID, expected: head, status: .appended)
                if event.expectedRevision != nil { plan.clientExpectations.insert(event.id) }
            }
        }
        guard refusals.isEmpty else {
            let worst = refusals.values.map(\.status).max() ?? .invalid
            let (status, code, message): (HTTPResponse.Status, String, String) = switch worst {
            case .forbidden: (.forbidden, "forbidden", "the token's role does not allow some events; nothing was stored")
            case .conflict: (.conflict, "conflict", "some events conflict with the log; nothing was stored")
            case .notFound: (.notFound, "not-found", "some events name an article or annotation that does not exist; nothing was stored")
            case .invalid: (.unprocessableContent, "invalid-events", "some events are invalid; nothing was stored")
            }
            throw APIError(status: status, code: code, message: message, details: refusals.mapValues(\.reason))
        }
        return plan
    }

    /// What the log says about an annotation: its article, author, revision and whether deleted.
    struct AnnotationRecord: Sendable {
        var articleID: UUID
        var author: String
        var revision: Int64
        var deleted: Bool
    }

    private func annotation(_ id: UUID) async throws -> AnnotationRecord? {
        let events = try await store.readStream(FolioEvent.annotationStream(id))
        guard let first = events.first, first.type == AnnotationAdded.eventType,
            case .annotationAdded(let added) = try FolioEvent.decode(type: first.type, schemaVersion: first.schemaVersion, json: first.data)
        else { return nil }
        let author = (try? JSONSerialization.jsonObject(with: Data(first.metadata.utf8)) as? [String: Any])?["author"] as? String ?? ""
        return AnnotationRecord(
            articleID: added.articleId, author: author, revision: events.last?.revision ?? 1,
            deleted: events.contains { $0.type == AnnotationDeleted.eventType })
    }

    /// The least role that may send this event (SPEC §9); ownership is checked separately.
    static func requiredRole(_ event: FolioEvent) -> Role? {
        switch event {
        case .annotationAdded, .annotationUpdated, .annotationDeleted: .annotator
        case .articleCreated, .articleEdited, .articleRetitled, .articleArchived: .editor
        case .editConflicted: nil
        }
    }

    /// The stored metadata: the client's `meta` strings, with `author` set from the token
    /// (never trusted from the client).
    static func metadata(_ event: IncomingEvent, author: String) -> String {
        if event.meta.isEmpty { return JSONText.object(author: author) }
        var object: [String: String] = [:]
        for (name, value) in event.meta { if let text = value as? String { object[name] = text } }
        object["author"] = author
        return JSONText.object(object)
    }

    /// The id of the `EditConflicted` recorded for a refused edit: derived from the edit's id,
    /// so a re-sent edit finds it (G3) and every server derives the same one.
    static func conflictID(for id: UUID) -> UUID {
        var bytes = Array(SHA256.hash(data: Data("folio:edit-conflicted:\(id.uuidString.lowercased())".utf8)).prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x80  // version 8: name-based, custom hash
        bytes[8] = (bytes[8] & 0x3F) | 0x80  // RFC 4122 variant
        return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                           bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }

    static func apiError(_ rejection: AppendRejection) -> APIError {
        var details: [String: String] = [:]
        var status: HTTPResponse.Status = .conflict
        var code = "conflict"
        for (id, reason) in rejection.reasons {
            switch reason {
            case .wrongExpectedRevision(let expected, let actual):
                details[id.uuidString.lowercased()] = "wrong-expected-revision: expected \(expected), the stream is at \(actual)"
                code = "wrong-expected-revision"
            case .eventIDReused:
                details[id.uuidString.lowercased()] = "event-id-reused: this id was stored before with another type or data"
                code = "event-id-reused"
            case .duplicateInBatch:
                details[id.uuidString.lowercased()] = "the id appears twice in the batch"
                status = .unprocessableContent
            case .notAttempted:
                details[id.uuidString.lowercased()] = "not stored: another event of the batch was refused"
            }
        }
        return APIError(status: status, code: code, message: "the batch was refused; nothing was stored", details: details)
    }
}

extension EventIntake.Plan {
    mutating func add(
        _ event: IncomingEvent, _ decoded: FolioEvent, meta: String, article: UUID?, expected: Int64?, status: AppendResult.Status,
        ops: TextEdit? = nil, answerID: UUID? = nil
    ) {
        let data = (try? decoded.jsonText()) ?? "{}"
        events.append(NewEvent(
            id: event.id, stream: decoded.streamID, type: decoded.type, schemaVersion: decoded.schemaVersion, data: data, metadata: meta,
            articleID: article, expectedRevision: expected))
        answers.append(.pending(eventIndex: events.count - 1, id: answerID ?? event.id, status: status, ops: ops))
    }
}
