import FolioCore
import Foundation

/// Rebases an outbox event that was made on top of another pending event of this replica
/// once that event has reached the log (or was refused as a conflict): SPEC §9 — the event
/// is sent with the revision the server gave its base.
enum Rebase {
    /// Why an event could not be rebased.
    enum Failure: Error {
        case quoteLost(String)
        case edit(String)
    }

    /// The revision that settled `baseEventId` in the pulled article stream: the revision of
    /// that event, or of the `EditConflicted` that refused it; nil while it is still pending.
    static func settledRevision(of baseEventId: String, in articleEvents: [StoredEvent]) -> Int? {
        for event in articleEvents {
            if event.id == baseEventId { return event.revision }
            if event.type == EditConflicted.eventType, event.data.contains(baseEventId) {
                if let object = try? JSONSerialization.jsonObject(with: Data(event.data.utf8)) as? [String: Any],
                   (object["rejectedEventId"] as? String)?.lowercased() == baseEventId {
                    return event.revision
                }
            }
        }
        return nil
    }

    /// The event rebased on revision `revision` of `history` (whose text there may differ
    /// from the text the event was made against, `baseText`, when the server transformed
    /// or refused the base): edits are transformed through the difference of the two texts,
    /// annotation targets re-located with the core's anchoring.
    static func rebase(_ event: FolioEvent, baseText: String, onto revision: Int, of history: ArticleHistory) throws -> FolioEvent {
        let serverText = try history.state(at: revision).content
        let localText = ScalarText(baseText)
        let same = serverText == localText
        switch event {
        case .articleEdited(var edited):
            edited.baseRevision = revision
            if !same {
                let difference = TextDiff.diff(localText, serverText)
                do {
                    edited.ops = try TextEdit.transform(difference, edited.ops).1
                    _ = try edited.ops.apply(to: serverText)
                } catch {
                    throw Failure.edit("the edit no longer applies to revision \(revision): \(error)")
                }
            }
            return .articleEdited(edited)
        case .annotationAdded(var added):
            added.revision = revision
            if !same {
                let difference = TextDiff.diff(localText, serverText)
                let start = difference.transformPosition(added.target.start, stickRight: true)
                let end = max(start, difference.transformPosition(added.target.end, stickRight: false))
                let anchor = Anchor.locate(target: added.target, in: serverText, near: start, end, revision: revision)
                guard anchor.status != .orphaned, anchor.end > anchor.start,
                      let target = try? AnnotationTarget(text: serverText, start: anchor.start, end: anchor.end) else {
                    throw Failure.quoteLost("the quote \"\(added.target.exact)\" is not in revision \(revision) any more")
                }
                added.target = target
            }
            return .annotationAdded(added)
        default:
            return event
        }
    }
}
