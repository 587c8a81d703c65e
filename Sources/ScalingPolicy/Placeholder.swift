public enum ScalingPolicyPlaceholder {}
