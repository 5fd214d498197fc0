import { toBinary, type DescFile, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type * as grpc from "@grpc/grpc-js";
import type { PackageDefinition } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { grpcStatusOf } from "../errors.js";

/** Every file a service's file depends on, transitively, the service's own file last. */
function filesWithDependencies(files: readonly DescFile[]): DescFile[] {
  const seen = new Set<string>();
  const ordered: DescFile[] = [];
  const visit = (file: DescFile): void => {
    if (seen.has(file.name)) return;
    seen.add(file.name);
    for (const dependency of file.dependencies) visit(dependency);
    ordered.push(file);
  };
  for (const file of files) visit(file);
  return ordered;
}

/**
 * Adds gRPC server reflection (v1 and v1alpha, from `@grpc/reflection`) for `services` to `server`.
 *
 * `@grpc/reflection` reads a proto-loader package definition, but proto-loader rebuilds descriptors in a
 * way that breaks files with imports (buf curl then cannot find the service). So the package definition
 * handed to it carries the original descriptors from protobuf-es: `FileDescriptorProto` bytes of each
 * service's file and of every file it imports. The health service is described from
 * `gen/health/v1/health_pb.ts`, generated from grpc-health-check's own health.proto (proto-loader's
 * descriptor of it leaves map and enum type names unresolved, which buf curl rejects).
 */
export function addReflection(server: grpc.Server, services: readonly DescService[], admit?: (metadata: grpc.Metadata) => void): void {
  const definition: PackageDefinition = {};
  const files = filesWithDependencies(services.map((service) => service.file));
  const fileDescriptorProtos = files.map((file) => Buffer.from(toBinary(FileDescriptorProtoSchema, file.proto)));
  for (const service of services) {
    // Only `fileDescriptorProtos` is read by @grpc/reflection; the service entries are not.
    definition[service.typeName] = { format: "", type: {}, fileDescriptorProtos } as unknown as PackageDefinition[string];
  }
  const reflection = new ReflectionService(definition);
  if (admit === undefined) {
    reflection.addToServer(server);
    return;
  }
  // The reflection streams are bidirectional: refuse one by ending it with the status `admit` throws.
  reflection.addToServer({
    addService(service, implementation) {
      const guarded: grpc.UntypedServiceImplementation = {};
      for (const [name, handler] of Object.entries(implementation)) {
        guarded[name] = ((call: grpc.ServerDuplexStream<unknown, unknown>) => {
          try {
            admit(call.metadata);
          } catch (error) {
            call.emit("error", { code: grpcStatusOf(error), details: error instanceof Error ? error.message : String(error) });
            return;
          }
          (handler as (call: grpc.ServerDuplexStream<unknown, unknown>) => void)(call);
        }) as grpc.UntypedHandleCall;
      }
      server.addService(service, guarded);
    },
  });
}
