import ConfigFields
import Foundation
import Yams

/// The MLService and MLServiceRuntime documents of one YAML file (TensorStack T9k's
/// `tensorstack.dev/v1beta1`), validated and resolved into what local mode runs.
///
/// The same file a user would apply to a cluster should run locally: Kubernetes fields that mean
/// nothing to local processes (images, resources, probes, schedulers) become warnings rather than
/// errors, while anything unknown or inconsistent fails with the file, the document and the field.
public struct MLServiceFile: Sendable, Equatable {
    public static let apiVersion = "tensorstack.dev/v1beta1"
    public static let serviceKind = "MLService"
    public static let runtimeKind = "MLServiceRuntime"

    /// In the order the file declares them.
    public var services: [MLServiceSpec]
    public var runtimes: [String: RuntimeSpec]
    /// Fields that have no effect in local mode, each with file, line, document and field path.
    public var warnings: [String]

    public init(services: [MLServiceSpec] = [], runtimes: [String: RuntimeSpec] = [:], warnings: [String] = []) {
        self.services = services
        self.runtimes = runtimes
        self.warnings = warnings
    }

    /// Reads the file; relative `file://` model URIs and `workingDir`s are taken from its directory.
    public static func load(contentsOf path: String) throws -> MLServiceFile {
        let text = try InputFile.text(at: path, what: "the MLService file")
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        return try parse(text, file: path, baseDirectory: directory)
    }

    /// Parses `text` as if read from `file`, resolving relative paths against `baseDirectory`.
    public static func parse(_ text: String, file: String, baseDirectory: String) throws -> MLServiceFile {
        let base = FieldReader.absolutePath(baseDirectory, baseDirectory: FileManager.default.currentDirectoryPath)
        var documents: [(context: DocumentContext, fields: [String: Any])] = []
        for document in try YAMLDocuments.read(text, file: file) {
            var context = DocumentContext(file: file, index: document.index, line: document.line, lines: document.lines)
            guard let fields = document.value as? [String: Any] else {
                throw context.error("expected an \(serviceKind) or \(runtimeKind) object (a map with apiVersion, kind, metadata and spec), got \(FieldReader.describe(document.value))")
            }
            try context.identify(fields)
            documents.append((context, fields))
        }
        var result = MLServiceFile()
        var declared: [String: DocumentContext] = [:]
        for (context, fields) in documents where context.kind == runtimeKind || RuntimeSpec.kserveKinds.contains(context.kind ?? "") {
            let runtime = try context.reading(into: &result.warnings) { notes in
                context.kind == runtimeKind
                    ? try RuntimeSpec(context.reader(fields), baseDirectory: base, notes: &notes)
                    : try RuntimeSpec(kserve: context.reader(fields), kind: context.kind!, baseDirectory: base, notes: &notes)
            }
            if let first = declared[runtime.name] {
                throw context.error("field \"metadata.name\": \"\(runtime.name)\" is already the name of \(first.label); runtime names must be unique within the file", at: "metadata.name")
            }
            declared[runtime.name] = context
            result.runtimes[runtime.name] = runtime
        }
        declared = [:]
        for (context, fields) in documents where context.kind == serviceKind || context.kind == InferenceServiceReader.kind {
            let service = try context.reading(into: &result.warnings) { notes in
                if context.kind == InferenceServiceReader.kind {
                    var reader = InferenceServiceReader(runtimes: result.runtimes, baseDirectory: base)
                    defer { notes = reader.notes }
                    return try reader.read(context.reader(fields))
                }
                var reader = ServiceReader(runtimes: result.runtimes, baseDirectory: base)
                defer { notes = reader.notes }
                return try reader.read(context.reader(fields))
            }
            if let first = declared[service.name] {
                throw context.error("field \"metadata.name\": \"\(service.name)\" is already the name of \(first.label); service names must be unique within the file", at: "metadata.name")
            }
            declared[service.name] = context
            result.services.append(service)
        }
        return result
    }
}

extension DocumentContext {
    /// Checks the document's `apiVersion` and `kind`, and takes its name for messages.
    mutating func identify(_ fields: [String: Any]) throws {
        let kinds = "\(MLServiceFile.serviceKind), \(MLServiceFile.runtimeKind), or KServe's \(InferenceServiceReader.kind), \(RuntimeSpec.kserveKinds.joined(separator: " or "))"
        guard let kind = fields["kind"] as? String else {
            throw error("missing field \"kind\"; expected \(kinds)")
        }
        let expectedVersion: String
        switch kind {
        case MLServiceFile.serviceKind, MLServiceFile.runtimeKind: expectedVersion = MLServiceFile.apiVersion
        case _ where RuntimeSpec.kserveKinds.contains(kind): expectedVersion = RuntimeSpec.kserveAPIVersion
        case InferenceServiceReader.kind: expectedVersion = InferenceServiceReader.apiVersion
        default: throw error("field \"kind\": \"\(kind)\" is not supported; expected \(kinds)", at: "kind")
        }
        self.kind = kind
        name = (fields["metadata"] as? [String: Any])?["name"] as? String
        let version = fields["apiVersion"].map { FieldReader.describe($0) } ?? "missing"
        guard fields["apiVersion"] as? String == expectedVersion else {
            throw error("field \"apiVersion\" is \(version); expected \"\(expectedVersion)\" for \(kind)", at: "apiVersion")
        }
    }

    /// Runs `read` for this document: its errors are located here and its notes become warnings.
    func reading<T>(into warnings: inout [String], _ read: (inout [ConfigError]) throws -> T) throws -> T {
        var notes: [ConfigError] = []
        do {
            let value = try read(&notes)
            warnings += notes.map { located($0).description }
            return value
        } catch let problem as ConfigError {
            throw located(problem)
        }
    }
}
