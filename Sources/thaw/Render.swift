import ArgumentParser
import ClusterRender
import Foundation
import MLService

/// `thaw render`: the file `thaw up` runs, as the objects to apply to a cluster.
struct Render: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print an MLService file as the Kubernetes objects that run it on a cluster.",
        discussion: """
            The same MLService/MLServiceRuntime file that `thaw up` runs locally becomes, for a cluster where \
            manifests/ is installed: a Deployment per release predictor and for the transformer (the model \
            server's container from its runtime's template, with image, command and args rendered with PORT \
            \(ClusterRender.modelPort) and the model's parameters; the thaw-queue sidecar in front; the autoscaling \
            annotations and the labels Thaw groups targets by), and per service an ExternalName Service to the \
            activator that carries the default/canary split (and, with a transformer, NAME-predictor, its \
            PREDICTOR_HOST). A file:// model path stays relative to the container's working directory: bake \
            the model into the image or mount it there.

              thaw render examples/digits/mlservice.yaml --namespace ml | kubectl apply -f -

            The output is one v1 List in JSON (valid YAML), with sorted keys: the same file renders the same bytes.
            """
    )

    @Argument(help: "The YAML file with MLService and MLServiceRuntime documents.")
    var file: String

    @Option(name: .long, help: "The namespace of every object.")
    var namespace = "default"

    @Option(name: .long, help: "Thaw's image, for the thaw-queue sidecar.")
    var image = ClusterRender.Options().image

    @Option(name: .customLong("autoscaler-url"), help: "Where the sidecars send their stats.")
    var autoscalerURL = ClusterRender.Options().autoscalerURL

    @Option(name: .customLong("activator-host"), help: "The activator's Service host, where each service's name leads.")
    var activatorHost = ClusterRender.Options().activatorHost

    func validate() throws {
        guard !namespace.isEmpty, namespace.utf8.count <= 63, namespace.allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "-" }) else {
            throw ValidationError("--namespace must be a namespace name (lowercase letters, digits and -, at most 63), got \"\(namespace)\"")
        }
    }

    func run() throws {
        var options = ClusterRender.Options()
        (options.namespace, options.image, options.autoscalerURL, options.activatorHost) = (namespace, image, autoscalerURL, activatorHost)
        do {
            let services = try MLServiceFile.load(contentsOf: file)
            for warning in services.warnings where !warning.contains("is ignored in local mode") {
                FileHandle.standardError.write(Data("warning: \(warning)\n".utf8))
            }
            print(try ClusterRender(options: options).list(services), terminator: "")
        } catch {
            throw CommandFailure("\(error)")
        }
    }
}
