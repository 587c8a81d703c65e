"""A gRPC client for tests, on Python's grpcio. Calls the KServe-V2-shaped service at TARGET and
prints one JSON object per line: {"call": ..., "code": "OK" | status name, "details": ..., ...}.

  unary TARGET N [--concurrency C] [--timeout S]   N ModelInfer calls, C at a time
  stream TARGET N                                   one ModelStreamInfer call answered with N messages
  slowstream TARGET N --size B --pause S          N responses of B bytes each, read S seconds apart
  cancel TARGET --after S                           a ModelInfer call cancelled after S seconds
  health TARGET                                     grpc.health.v1.Health/Check
"""
import argparse, json, os, sys, tempfile, time
from concurrent import futures

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from inference_proto import pb, rpc  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("command")
parser.add_argument("target")
parser.add_argument("count", type=int, nargs="?", default=1)
parser.add_argument("--concurrency", type=int, default=1)
parser.add_argument("--timeout", type=float, default=30)
parser.add_argument("--after", type=float, default=0.5)
parser.add_argument("--authority", default=None)
parser.add_argument("--size", type=int, default=262144)
parser.add_argument("--pause", type=float, default=0.01)
args = parser.parse_args()

options = [("grpc.default_authority", args.authority)] if args.authority else []
channel = grpc.insecure_channel(args.target, options=options)
stub = rpc.GRPCInferenceServiceStub(channel)


def report(**fields):
    print(json.dumps(fields), flush=True)


def request(i, values=(1.0, 2.0, 3.0)):
    r = pb.ModelInferRequest(model_name="digits", id=str(i))
    t = r.inputs.add(name="x", datatype="FP32", shape=[len(values)])
    t.contents.fp32_contents.extend(values)
    return r


def infer(i):
    started = time.monotonic()
    try:
        response = stub.ModelInfer(request(i), timeout=args.timeout)
        return dict(call=i, code="OK", id=response.id, server=response.model_version,
                    values=list(response.outputs[0].contents.fp32_contents), seconds=time.monotonic() - started)
    except grpc.RpcError as error:
        return dict(call=i, code=error.code().name, details=error.details(), seconds=time.monotonic() - started)


if args.command == "unary":
    with futures.ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        for result in pool.map(infer, range(args.count)):
            report(**result)
elif args.command == "stream":
    try:
        values = [float(i) for i in range(args.count)]
        received = []
        for message in stub.ModelStreamInfer(iter([request("s", values)]), timeout=args.timeout):
            received.append(message.infer_response.outputs[0].contents.fp32_contents[0])
        report(call="stream", code="OK", values=received)
    except grpc.RpcError as error:
        report(call="stream", code=error.code().name, details=error.details())
elif args.command == "slowstream":
    try:
        received = 0
        r = pb.ModelInferRequest(model_name="digits", id=f"big:{args.count}:{args.size}")
        for message in stub.ModelStreamInfer(iter([r]), timeout=args.timeout):
            received += len(message.infer_response.raw_output_contents[0])
            time.sleep(args.pause)
        report(call="slowstream", code="OK", bytes=received)
    except grpc.RpcError as error:
        report(call="slowstream", code=error.code().name, details=error.details())
elif args.command == "cancel":
    future = stub.ModelInfer.future(request("c"), timeout=args.timeout)
    time.sleep(args.after)
    future.cancel()
    report(call="cancel", code="CANCELLED" if future.cancelled() else "NOT_CANCELLED")
elif args.command == "health":
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    try:
        answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=args.timeout)
        report(call="health", code="OK", status=health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status))
    except grpc.RpcError as error:
        report(call="health", code=error.code().name, details=error.details())
else:
    sys.exit(f"unknown command {args.command}")
