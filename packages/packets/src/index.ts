export { decode, readRemainingLength } from './decode.js';
export { Decoder, type DecoderOptions, MAX_PACKET_SIZE } from './decoder.js';
export { AckByte, encode, encodedLength, encodeInto, writeSuccessAck } from './encode.js';
export {
  MqttProtocolError,
  type MqttProtocolErrorOptions,
  type PacketErrorCode,
  PacketErrors,
} from './errors.js';
export { type FrameHandler, FrameReader, type FrameReaderOptions } from './frame-reader.js';
export type {
  AckPacket,
  AuthPacket,
  ConnackPacket,
  ConnectPacket,
  DisconnectPacket,
  Packet,
  PacketType,
  PingreqPacket,
  PingrespPacket,
  Properties,
  ProtocolVersion,
  PubackPacket,
  PubcompPacket,
  PublishPacket,
  PubrecPacket,
  PubrelPacket,
  QoS,
  SubackPacket,
  SubscribePacket,
  Subscription,
  UnsubackPacket,
  UnsubscribePacket,
  UserProperty,
  Will,
} from './packet.js';
export { PROPERTY_DEFINITIONS, PropertyContext } from './properties.js';
export {
  allowedReasonCodes,
  ConnectReturnCode,
  type ConnectReturnCodeName,
  connectReturnCodeFor,
  isFailureReasonCode,
  ReasonCode,
  type ReasonCodeName,
  reasonCodeName,
} from './reason-codes.js';
export {
  MAX_VARIABLE_BYTE_INTEGER,
  NEED_MORE,
  readVbi,
  VBI_NOT_MINIMAL,
  VBI_TOO_LONG,
  vbiSize,
  writeVbi,
} from './vbi.js';
