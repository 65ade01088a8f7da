import Foundation
import Testing

/// Golden files: a screen as it must look, kept in `Goldens/NAME.txt` beside this file.
///
/// A changed screen fails the test with the first lines that differ. When the change is meant,
/// record the new screens with `GATEHOUSE_RECORD_GOLDENS=1 swift test --filter Golden` and read
/// the diff before committing it. A missing golden is recorded and the test fails, so a new
/// golden is never taken on trust.
enum Golden {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Goldens")

    static func check(_ actual: String, named name: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let file = directory.appendingPathComponent(name + ".txt")
        let record = ProcessInfo.processInfo.environment["GATEHOUSE_RECORD_GOLDENS"] == "1"
        guard !record, let expected = try? String(contentsOf: file, encoding: .utf8) else {
            try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try? actual.write(to: file, atomically: true, encoding: .utf8)
            if !record { Issue.record("no golden \(name).txt: recorded it; check it and run again", sourceLocation: sourceLocation) }
            return
        }
        guard expected != actual else { return }
        let want = expected.split(separator: "\n", omittingEmptySubsequences: false)
        let got = actual.split(separator: "\n", omittingEmptySubsequences: false)
        var differences: [String] = []
        for index in 0..<max(want.count, got.count) where differences.count < 12 {
            let a = index < want.count ? String(want[index]) : "(none)"
            let b = index < got.count ? String(got[index]) : "(none)"
            if a != b { differences.append("line \(index + 1)\n  golden: \(a)\n  actual: \(b)") }
        }
        let report = differences.joined(separator: "\n")
        Issue.record("screen differs from \(name).txt (GATEHOUSE_RECORD_GOLDENS=1 records it):\n\(report)", sourceLocation: sourceLocation)
    }
}
