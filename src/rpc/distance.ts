import type { DistanceKind } from "../index/distance.js";
import { Distance } from "../../gen/vectordb/v1/collection_pb.js";

/** The wire value of each distance (`DISTANCE_X` for `x`); the one mapping between the two. */
const protoByKind: Readonly<Record<DistanceKind, Distance>> = { cosine: Distance.COSINE, dot: Distance.DOT, euclidean: Distance.EUCLIDEAN };

/** The distance names, as the command line and the domain spell them. */
export const distanceNames = Object.keys(protoByKind) as readonly DistanceKind[];

/** The proto enum value of a distance. */
export function distanceToProto(kind: DistanceKind): Distance {
  return protoByKind[kind];
}

/** The distance of a proto enum value; undefined for DISTANCE_UNSPECIFIED or an unknown number. */
export function distanceFromProto(value: Distance): DistanceKind | undefined {
  return distanceNames.find((kind) => protoByKind[kind] === value);
}
