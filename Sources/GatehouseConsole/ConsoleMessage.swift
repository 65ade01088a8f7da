import Foundation
import GatehouseCore
import TerminalKit

/// Everything that can change the model: input, time, and the results of side effects.
enum ConsoleMessage: Sendable {
    case event(Event)
    case tick
    /// The change detector answered: reload when true.
    case databaseChanged(Bool)
    /// A window was read; `generation` tells a stale answer from the latest (see `LoadTracker`).
    case loaded(PaneRows, anchor: Page, select: PageKey?, generation: Int)
    /// A pane's read failed (locked, deleted file…): shown, and the pane may load again.
    case loadFailed(PaneID, String)
    /// A page-up/home/end lookup found where the window should start.
    case reanchor(PaneID, Page, select: PageKey?)
    case detailLoaded(TextView)
    /// A step of the hash-chain verification answered.
    case chainChecked(AuditCheckpoint)
    /// A confirmation that needed a read first (a count) is ready to be asked.
    case confirm(ConfirmDialog, PendingAction)
    case actionDone(String)
    /// The job form's job was queued (closes the form) or refused (shown in the form).
    case jobStarted(String)
    case jobRefused(String)
    /// Completions for the command line, valid while it still reads `text`.
    case completions(text: String, [String])
    case failed(String)
}

/// A side effect: runs off the UI thread and answers with one message.
typealias ConsoleCommand = @Sendable () async -> ConsoleMessage
