import Foundation

/// A built executable of this package (`stringsvc`, `addsvc`, `addcli`, `kite-thread-count`…),
/// found next to the test bundle.
/// - Throws: ``Peers/PeerMissing`` when it has not been built.
public func packageBinary(_ name: String) throws -> String {
    let bundleDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for candidate in [bundleDirectory, bundleDirectory.deletingLastPathComponent()] {
        let path = candidate.appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    throw Peers.PeerMissing(program: "\(name) (run `swift build` before `swift test`)")
}
