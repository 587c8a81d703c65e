/// The fields Thaw reads of the Kubernetes objects it watches, and nothing else: a Pod or a
/// Deployment carries far more, and decoding only this keeps 30,000 pods cheap.
///
/// Shapes as the Kubernetes API reference documents them (apps/v1, core/v1, autoscaling/v2, KEDA's
/// keda.sh/v1alpha1).
public struct ObjectMetadata: Decodable, Sendable, Equatable {
    public var name: String
    public var namespace: String?
    public var uid: String?
    public var labels: [String: String]?
    public var annotations: [String: String]?
    /// Set once the object is being deleted: a terminating pod gets no new requests.
    public var deletionTimestamp: String?

    public init(name: String, namespace: String? = nil, uid: String? = nil, labels: [String: String]? = nil,
                annotations: [String: String]? = nil) {
        self.name = name
        self.namespace = namespace
        self.uid = uid
        self.labels = labels
        self.annotations = annotations
    }
}

/// A condition of a Deployment or a Pod.
public struct ObjectCondition: Decodable, Sendable, Equatable {
    public var type: String
    public var status: String
    public var reason: String?
    public var message: String?
    /// When the condition last changed (RFC 3339).
    public var lastTransitionTime: String?
}

/// A Deployment or a StatefulSet.
public struct WorkloadObject: Decodable, Sendable {
    public struct Spec: Decodable, Sendable {
        public var replicas: Int?
        public var selector: Selector?
        public var template: Template?
    }
    public struct Selector: Decodable, Sendable {
        public var matchLabels: [String: String]?
    }
    public struct Template: Decodable, Sendable {
        public var metadata: TemplateMetadata?
        public var spec: PodSpec?
    }
    /// A Pod template's metadata has no name of its own.
    public struct TemplateMetadata: Decodable, Sendable {
        public var annotations: [String: String]?
    }
    public struct PodSpec: Decodable, Sendable {
        public var containers: [Container]?
    }
    public struct Container: Decodable, Sendable {
        public var readinessProbe: Probe?
    }
    public struct Probe: Decodable, Sendable {
        public var httpGet: HTTPGet?
    }
    public struct HTTPGet: Decodable, Sendable {
        public var path: String?
    }
    public struct Status: Decodable, Sendable {
        public var conditions: [ObjectCondition]?
    }
    public var kind: String?
    public var metadata: ObjectMetadata
    public var spec: Spec?
    public var status: Status?
}

/// A Pod: where it runs, whether it is ready, and why it is not.
public struct PodObject: Decodable, Sendable {
    public struct Status: Decodable, Sendable {
        public var phase: String?
        public var podIP: String?
        /// When the kubelet took the pod on (RFC 3339).
        public var startTime: String?
        public var conditions: [ObjectCondition]?
        public var containerStatuses: [ContainerStatus]?
        public var initContainerStatuses: [ContainerStatus]?
    }
    public struct ContainerStatus: Decodable, Sendable {
        public struct State: Decodable, Sendable {
            public var waiting: Waiting?
        }
        public struct Waiting: Decodable, Sendable {
            public var reason: String?
            public var message: String?
        }
        public var name: String?
        public var state: State?
    }
    public var metadata: ObjectMetadata
    public var status: Status?
}

/// A core/v1 Service: its annotations say a service's default and canary release.
public struct ServiceObject: Decodable, Sendable {
    public var metadata: ObjectMetadata
}

/// A HorizontalPodAutoscaler or a KEDA ScaledObject: what it scales.
public struct ScalerObject: Decodable, Sendable {
    public struct Spec: Decodable, Sendable {
        public var scaleTargetRef: Reference?
    }
    public struct Reference: Decodable, Sendable {
        /// KEDA leaves it out for a Deployment.
        public var kind: String?
        public var name: String
    }
    public var kind: String?
    public var metadata: ObjectMetadata
    public var spec: Spec?
}
