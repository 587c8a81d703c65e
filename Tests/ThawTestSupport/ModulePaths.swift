import Foundation

/// Where the repository's files are, for tests that read them (examples, manifests, the Dockerfile).
public enum ModulePaths {
    /// The repository's root: this file is Tests/ThawTestSupport/ModulePaths.swift.
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}
