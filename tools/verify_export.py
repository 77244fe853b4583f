#!/usr/bin/env python3
"""Independent verifier of di-ledger exports and proofs (docs/audit.md, "Verifying without our code").

Written from docs/audit.md, docs/events.md and the published schema (ledger/schema/events.capnp) alone, with the
Python 3 standard library only: it shares no code with the ledger, so an auditor need not trust the ledger's C++.

  verify_export.py --pubkey KEY EXPORT.jsonl       the whole log: hash chain, Merkle tree, signatures, key chain
  verify_export.py --pubkey KEY --proof P.json...  inclusion and consistency proofs (`di-ledger audit prove`)
  verify_export.py --layout                        the struct layout computed from the schema
  verify_export.py --self-test                     RFC 8032, RFC 6962 and RFC 8785 test vectors

Exit code 0: everything verified; 1: a check failed (the output names the position, line and reason); 2: usage
or I/O error.
"""

import argparse
import datetime
import hashlib
import json
import os
import re
import sys

# ---------------------------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------------------------


class Refused(Exception):
    """Input that does not verify. `field` is the JSON path of the offending value, when there is one."""

    def __init__(self, reason, field=""):
        super().__init__(reason)
        self.reason = reason
        self.field = field

    def __str__(self):
        return "field '%s': %s" % (self.field, self.reason) if self.field else self.reason


def join_path(path, name):
    return name if not path else path + "." + name


# ---------------------------------------------------------------------------------------------------------------
# The schema: the subset of the Cap'n Proto schema language that events.capnp uses (docs/audit.md §1.2).
# ---------------------------------------------------------------------------------------------------------------

TOKEN = re.compile(r'\s+|#[^\n]*|"(?:[^"\\]|\\.)*"|@0x[0-9a-fA-F]+|@\d+|-?\d+|[A-Za-z_][A-Za-z0-9_]*|[{}()\[\];:=$,.]')

# Bits per value of each primitive type; Text and List are pointers.
PRIMITIVE_BITS = {"Bool": 1, "Int8": 8, "UInt8": 8, "Int16": 16, "UInt16": 16, "Int32": 32, "UInt32": 32,
                  "Int64": 64, "UInt64": 64}
SIGNED = {"Int8", "Int16", "Int32", "Int64"}


class Field:
    def __init__(self, name, ordinal, type_, default, annotations, in_union):
        self.name = name
        self.ordinal = ordinal
        self.type = type_          # "Int32", "Text", "Enum:Name", "Struct:Name", ("List", element)
        self.default = default     # data fields are stored XOR this value (spec: "Default Values")
        self.annotations = annotations
        self.in_union = in_union
        self.json_name = camel_to_snake(name)
        self.bit_offset = None     # data fields
        self.bit_size = None
        self.pointer = None        # pointer fields
        self.discriminant = None   # union members


class Struct:
    def __init__(self, name):
        self.name = name
        self.fields = []
        self.union_group = None    # the group that holds the struct's union ("payload" in Event)
        self.tag_bit_offset = None
        self.data_words = 0
        self.pointer_count = 0


def camel_to_snake(name):
    return re.sub(r"[A-Z]", lambda match: "_" + match.group(0).lower(), name)


def tokenize(text):
    tokens = []
    position = 0
    while position < len(text):
        match = TOKEN.match(text, position)
        if not match:
            raise Refused("schema: cannot read %r" % text[position:position + 20])
        token = match.group(0)
        if not token.isspace() and not token.startswith("#"):
            tokens.append(token)
        position = match.end()
    return tokens


class SchemaParser:
    """Reads enums, structs, fields with defaults and annotations, and one `name :union {...}` group per struct.
    Anything else is refused by name, so a schema this verifier cannot follow is never half-understood."""

    def __init__(self, text):
        self.tokens = tokenize(text)
        self.index = 0
        self.enums = {}
        self.structs = {}

    def peek(self, ahead=0):
        position = self.index + ahead
        return self.tokens[position] if position < len(self.tokens) else ""

    def take(self, expected=None):
        token = self.peek()
        if expected is not None and token != expected:
            raise Refused("schema: expected %r, found %r" % (expected, token))
        self.index += 1
        return token

    def skip_statement(self):
        depth = 0
        while True:
            token = self.take()
            depth += token in "({[" and len(token) == 1
            depth -= token in ")}]" and len(token) == 1
            if token == ";" and depth == 0:
                return

    def parse(self):
        while self.index < len(self.tokens):
            keyword = self.peek()
            if keyword == "enum":
                self.parse_enum()
            elif keyword == "struct":
                self.parse_struct()
            elif keyword in ("using", "annotation", "$") or keyword.startswith("@0x"):
                self.skip_statement()
            else:
                raise Refused("schema: unsupported declaration %r" % keyword)
        return self.enums, self.structs

    def parse_enum(self):
        self.take("enum")
        name = self.take()
        self.take("{")
        enumerants = {}
        while self.peek() != "}":
            enumerant = self.take()
            enumerants[camel_to_snake(enumerant)] = int(self.take()[1:])
            self.take(";")
        self.take("}")
        self.enums[name] = enumerants

    def parse_struct(self):
        self.take("struct")
        struct = Struct(self.take())
        self.take("{")
        while self.peek() != "}":
            if self.peek(1) == ":" and self.peek(2) == "union":
                struct.union_group = self.take()
                self.take(":")
                self.take("union")
                self.take("{")
                while self.peek() != "}":
                    struct.fields.append(self.parse_field(in_union=True))
                self.take("}")
            else:
                struct.fields.append(self.parse_field(in_union=False))
        self.take("}")
        self.structs[struct.name] = struct

    def parse_type(self):
        name = self.take()
        if name == "List":
            self.take("(")
            element = self.parse_type()
            self.take(")")
            return ("List", element)
        return name

    def parse_field(self, in_union):
        name = self.take()
        ordinal = self.take()
        if not re.fullmatch(r"@\d+", ordinal):
            raise Refused("schema: field %s: unsupported construct %r (groups, nested declarations)" % (name, ordinal))
        self.take(":")
        type_ = self.parse_type()
        default = 0
        if self.peek() == "=":
            self.take("=")
            default = int(self.take())  # the schema's only defaults are integers
        annotations = set()
        while self.peek() == "$":
            self.take("$")
            annotations.add(self.take())
        self.take(";")
        return Field(name, int(ordinal[1:]), type_, default, annotations, in_union)


# ---------------------------------------------------------------------------------------------------------------
# Layout (docs/audit.md §1.2): fields in ordinal order; a data field goes to the lowest offset aligned to its size
# that no earlier field uses, else into a new word; pointers take the next pointer slot; a union's members share
# one pointer slot and its 16-bit tag is placed when its second member is.
# ---------------------------------------------------------------------------------------------------------------


def resolve_type(type_, enums, structs):
    if isinstance(type_, tuple):
        return ("List", resolve_type(type_[1], enums, structs))
    if type_ in PRIMITIVE_BITS or type_ == "Text":
        return type_
    if type_ in enums:
        return "Enum:" + type_
    if type_ in structs:
        return "Struct:" + type_
    raise Refused("schema: unsupported type %r" % (type_,))


def data_bits(type_):
    if type_ in PRIMITIVE_BITS:
        return PRIMITIVE_BITS[type_]
    if type_.startswith("Enum:"):
        return 16  # enums are encoded as UInt16
    return None


def allocate_data(used_bits, size):
    """Lowest offset aligned to `size` whose bits are all free; grows the section by whole words."""
    offset = 0
    while True:
        if all(bit not in used_bits for bit in range(offset, offset + size)):
            used_bits.update(range(offset, offset + size))
            return offset
        offset += size


def lay_out(struct):
    used_bits = set()
    union_pointer = None
    union_members = 0
    for field in sorted(struct.fields, key=lambda field: field.ordinal):
        size = data_bits(field.type) if not isinstance(field.type, tuple) else None
        if field.in_union:
            if size is not None:
                raise Refused("schema: %s.%s: a union member in the data section is not supported" %
                              (struct.name, field.name))
            field.discriminant = union_members
            union_members += 1
            if union_members == 2:
                struct.tag_bit_offset = allocate_data(used_bits, 16)
            if union_pointer is None:
                union_pointer = struct.pointer_count
                struct.pointer_count += 1
            field.pointer = union_pointer
        elif size is not None:
            field.bit_offset, field.bit_size = allocate_data(used_bits, size), size
        else:
            field.pointer = struct.pointer_count
            struct.pointer_count += 1
    struct.data_words = (max(used_bits) // 64 + 1) if used_bits else 0


def load_schema(path):
    try:
        with open(path, encoding="utf-8") as file:
            enums, structs = SchemaParser(file.read()).parse()
    except OSError as error:
        raise Refused("cannot read the schema '%s': %s" % (path, error.strerror))
    for struct in structs.values():
        for field in struct.fields:
            field.type = resolve_type(field.type, enums, structs)
        lay_out(struct)
    return enums, structs


def layout_lines(structs):
    """One line per struct and field, in the words of `capnp compile -ocapnp` (the cross-check in the tests)."""
    lines = []
    for struct in structs.values():
        lines.append("%s: %d bytes, %d ptrs" % (struct.name, 8 * struct.data_words, struct.pointer_count))
        if struct.tag_bit_offset is not None:
            lines.append("%s.%s: tag bits[%d, %d)" % (struct.name, struct.union_group, struct.tag_bit_offset,
                                                       struct.tag_bit_offset + 16))
        for field in struct.fields:
            where = ("ptr[%d]" % field.pointer if field.pointer is not None else
                     "bits[%d, %d)" % (field.bit_offset, field.bit_offset + field.bit_size))
            if field.discriminant is not None:
                where += ", union tag = %d" % field.discriminant
            lines.append("%s.%s: %s" % (struct.name, field.name, where))
    return lines


# ---------------------------------------------------------------------------------------------------------------
# RFC 8785 (JSON Canonicalization Scheme) for $jsonDocument fields, restricted to integers (docs/audit.md §1.3).
# ---------------------------------------------------------------------------------------------------------------

MAX_SAFE_INTEGER = 2 ** 53 - 1
JCS_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


class Fraction:
    """A JSON number with a fraction or an exponent, kept as written: documents may not hold one."""

    def __init__(self, text):
        self.text = text


def jcs_string(text):
    out = ['"']
    for char in text:
        if char in JCS_ESCAPES:
            out.append(JCS_ESCAPES[char])
        elif ord(char) < 0x20:
            out.append("\\u%04x" % ord(char))
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def jcs(value, path):
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise Refused("integer outside -(2^53-1)..2^53-1, which RFC 8785 cannot represent exactly", path)
        return str(value)
    if isinstance(value, Fraction):
        raise Refused("%s: numbers in a JSON document must be integers" % value.text, path)
    if isinstance(value, str):
        return jcs_string(value)
    if isinstance(value, list):
        return "[" + ",".join(jcs(element, "%s[%d]" % (path, i)) for i, element in enumerate(value)) + "]"
    # Keys sorted by their UTF-16 code units; big-endian UTF-16 bytes compare in that order.
    keys = sorted(value, key=lambda key: key.encode("utf-16-be", "surrogatepass"))
    return "{" + ",".join(jcs_string(key) + ":" + jcs(value[key], join_path(path, key)) for key in keys) + "}"


# ---------------------------------------------------------------------------------------------------------------
# JSON input: strict, so that nothing a reader sees in a line is outside the bytes that are hashed.
# ---------------------------------------------------------------------------------------------------------------


def unique_object(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise Refused("the key '%s' appears twice in one object" % key)
        result[key] = value
    return result


def refuse_constant(name):
    raise Refused("%s is not JSON" % name)


def parse_json(text):
    try:
        return json.loads(text, object_pairs_hook=unique_object, parse_float=Fraction,
                          parse_constant=refuse_constant)
    except json.JSONDecodeError as error:
        raise Refused("not valid JSON: %s" % error)
    except RecursionError:
        raise Refused("not valid JSON: nested too deeply")


# ---------------------------------------------------------------------------------------------------------------
# JSON -> values of the schema (docs/events.md §2) -> canonical Cap'n Proto bytes (docs/audit.md §1).
# ---------------------------------------------------------------------------------------------------------------

EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()
DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
RECORDED_AT = re.compile(r"(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{6})Z")


def days_from_date(text, path):
    match = DATE.fullmatch(text) if isinstance(text, str) else None
    try:
        if match and 1900 <= int(match.group(1)) <= 2199:
            return datetime.date(*map(int, match.groups())).toordinal() - EPOCH_ORDINAL
    except ValueError:
        pass
    raise Refused("%s is not a valid date YYYY-MM-DD in years 1900..2199" % json.dumps(text), path)


def micros_from_time(text, path):
    match = RECORDED_AT.fullmatch(text) if isinstance(text, str) else None
    if not match or int(match.group(2)) > 23 or int(match.group(3)) > 59 or int(match.group(4)) > 59:
        raise Refused("must be a UTC time YYYY-MM-DDTHH:MM:SS.ffffffZ", path)
    days = days_from_date(match.group(1), path)
    seconds = days * 86400 + int(match.group(2)) * 3600 + int(match.group(3)) * 60 + int(match.group(4))
    return seconds * 1000000 + int(match.group(5))


def utf8(text, path):
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise Refused("not valid Unicode (a lone surrogate)", path)


class StructValue:
    def __init__(self, struct):
        self.data = bytearray(8 * struct.data_words)
        self.pointers = [None] * struct.pointer_count


class ListValue:
    def __init__(self, kind, elements):
        self.kind = kind            # "text", "enums", "pointers", "structs"
        self.elements = elements


def set_bits(data, offset, size, value):
    if size == 1:
        if value:
            data[offset // 8] |= 1 << (offset % 8)
        return
    data[offset // 8:offset // 8 + size // 8] = value.to_bytes(size // 8, "little")


class Encoder:
    """Builds StructValues from JSON following the schema; `write_canonical` turns them into bytes."""

    def __init__(self, enums, structs):
        self.enums = enums
        self.structs = structs

    def integer(self, value, type_, path):
        if type(value) is not int:
            raise Refused("must be an integer", path)
        bits = PRIMITIVE_BITS[type_]
        low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if type_ in SIGNED else (0, (1 << bits) - 1)
        if not low <= value <= high:
            raise Refused("out of range for %s" % type_, path)
        return value & ((1 << bits) - 1)

    def scalar(self, field, value, path):
        """The field's value as an unsigned number of its width, before the XOR with the default."""
        if "date" in field.annotations:
            return days_from_date(value, path) & 0xFFFFFFFF
        if field.type == "Bool":
            if value is not True and value is not False:
                raise Refused("must be a boolean", path)
            return int(value)
        if field.type.startswith("Enum:"):
            return self.enumerant(field.type[5:], value, path)
        return self.integer(value, field.type, path)

    def enumerant(self, enum, value, path):
        enumerants = self.enums[enum]
        if not isinstance(value, str) or value not in enumerants:
            raise Refused("unknown value %s (one of: %s)" % (json.dumps(value), ", ".join(enumerants)), path)
        return enumerants[value]

    def text(self, field, value, path):
        if "jsonDocument" in field.annotations:
            if not isinstance(value, dict):
                raise Refused("must be a JSON object", path)
            return utf8(jcs(value, path), path)
        if not isinstance(value, str):
            raise Refused("must be a string", path)
        return utf8(value, path)

    def pointer(self, field, value, path):
        if field.type == "Text":
            return self.text(field, value, path)
        if isinstance(field.type, tuple):
            return self.list(field.type[1], value, path)
        if not isinstance(value, dict):
            raise Refused("must be an object", path)
        return self.struct(self.structs[field.type[7:]], value, path)

    def list(self, element, value, path):
        if not isinstance(value, list):
            raise Refused("must be an array", path)
        paths = ["%s[%d]" % (path, i) for i in range(len(value))]
        if element == "Text":
            return ListValue("pointers", [utf8(self.string(v, p), p) for v, p in zip(value, paths)])
        if element.startswith("Enum:"):
            return ListValue("enums", [self.enumerant(element[5:], v, p) for v, p in zip(value, paths)])
        if element.startswith("Struct:"):
            for v, p in zip(value, paths):
                if not isinstance(v, dict):
                    raise Refused("must be an object", p)
            return ListValue("structs", [self.struct(self.structs[element[7:]], v, p) for v, p in zip(value, paths)])
        raise Refused("schema: unsupported list element type %s" % element, path)

    @staticmethod
    def string(value, path):
        if not isinstance(value, str):
            raise Refused("must be a string", path)
        return value

    def struct(self, struct, obj, path):
        """Every key must be a field of the struct: a key the bytes do not cover would be shown unverified."""
        result = StructValue(struct)
        fields = {field.json_name: field for field in struct.fields if not field.in_union}
        for key in obj:
            if key not in fields:
                raise Refused("unknown field: it is not covered by the hash", join_path(path, key))
        for name, field in fields.items():
            self.set_field(result, field, obj, join_path(path, name))
        return result

    def set_field(self, result, field, obj, path):
        optional = "optional" in field.annotations
        if field.json_name not in obj:
            if not optional:
                raise Refused("is required", path)
            return  # absent: the default, i.e. zero bits or a null pointer
        value = obj[field.json_name]
        if field.pointer is not None:
            result.pointers[field.pointer] = self.pointer(field, value, path)
            return
        stored = self.scalar(field, value, path) ^ (field.default & ((1 << field.bit_size) - 1))
        if optional and stored == 0:
            raise Refused("this value means 'absent' for an optional field: omit the field", path)
        set_bits(result.data, field.bit_offset, field.bit_size, stored)

    def event(self, line):
        """The `Event` struct from an export line's envelope and `data`."""
        struct = self.structs["Event"]
        envelope = {key: line[key] for key in ("id", "effective_date", "actor", "causation_id") if key in line}
        result = self.struct(struct, envelope, "")
        kind = line.get("type")
        members = {field.json_name: field for field in struct.fields if field.in_union}
        if kind not in members:
            raise Refused("unknown event type %s" % json.dumps(kind), "type")
        if not isinstance(line.get("data"), dict):
            raise Refused("must be an object", "data")
        member = members[kind]
        set_bits(result.data, struct.tag_bit_offset, 16, member.discriminant)
        result.pointers[member.pointer] = self.struct(self.structs[member.type[7:]], line["data"], "data")
        return result

    def recorded_event(self, line):
        """The `RecordedEvent` of one export line (docs/events.md §1.1, §5.2)."""
        struct = self.structs["RecordedEvent"]
        fields = {field.name: field for field in struct.fields}
        result = StructValue(struct)
        for name, key in (("position", "position"), ("streamVersion", "stream_version")):
            field = fields[name]
            set_bits(result.data, field.bit_offset, 64, self.integer(line.get(key), "UInt64", key))
        if line["position"] == 0:
            raise Refused("must be a position >= 1", "position")
        micros = micros_from_time(line.get("recorded_at"), "recorded_at")
        field = fields["recordedAtMicros"]
        set_bits(result.data, field.bit_offset, 64, micros & (2 ** 64 - 1))
        result.pointers[fields["stream"].pointer] = utf8(self.string(line.get("stream"), "stream"), "stream")
        result.pointers[fields["event"].pointer] = self.event(line)
        if "recorded_at_asserted" in line:  # migrated events only (docs/audit.md §1.4)
            if line["recorded_at_asserted"] is not True:
                raise Refused("is only ever true (absent: the recorded time was observed)", "recorded_at_asserted")
            field = fields["recordedAtAsserted"]
            set_bits(result.data, field.bit_offset, 1, 1)
        return result


ENVELOPE_KEYS = ("position", "recorded_at", "recorded_at_asserted", "stream", "stream_version", "id", "type",
                 "effective_date", "actor", "causation_id", "data", "hash")


def check_envelope_keys(line):
    for key in line:
        if key not in ENVELOPE_KEYS:
            raise Refused("unknown field: it is not part of the recorded form and not covered by the hash", key)


# ---- Canonical writer (Cap'n Proto encoding spec, "Canonicalization"; docs/audit.md §1.2) ------------------------


def struct_pointer(offset, data_words, pointer_count):
    return ((offset << 2) & 0xFFFFFFFF) | (data_words << 32) | (pointer_count << 48)


def list_pointer(offset, element_size, count):
    return ((offset << 2) & 0xFFFFFFFF) | 1 | (element_size << 32) | (count << 35)


def put_word(out, at, word):
    out[at:at + 8] = word.to_bytes(8, "little")


def truncated(value):
    """Data words and pointers left once trailing zero words and null pointers are cut."""
    data = bytes(value.data)
    while data and not any(data[-8:]):
        data = data[:-8]
    pointers = list(value.pointers)
    while pointers and pointers[-1] is None:
        pointers.pop()
    return data, pointers


def pad(blob):
    return blob + bytes(-len(blob) % 8)


def write_canonical(root):
    out = bytearray(8)
    write_pointer(out, 0, root)
    return bytes(out)


def write_pointer(out, at, value):
    """Appends `value`'s object at the end of `out` (preorder) and points the word at `at` to it."""
    offset = (len(out) - at - 8) // 8
    if value is None:
        return
    if isinstance(value, bytes):  # Text: bytes and a NUL
        put_word(out, at, list_pointer(offset, 2, len(value) + 1))
        out += pad(value + b"\0")
    elif isinstance(value, StructValue):
        write_struct(out, at, value)
    elif value.kind == "enums":
        put_word(out, at, list_pointer(offset, 3, len(value.elements)))
        out += pad(b"".join(element.to_bytes(2, "little") for element in value.elements))
    elif value.kind == "pointers":
        put_word(out, at, list_pointer(offset, 6, len(value.elements)))
        start = len(out)
        out += bytes(8 * len(value.elements))
        for i, element in enumerate(value.elements):
            write_pointer(out, start + 8 * i, element)
    else:
        write_struct_list(out, at, value.elements)


def write_struct(out, at, value):
    data, pointers = truncated(value)
    if not data and not pointers:
        put_word(out, at, struct_pointer(-1, 0, 0))  # a zero-sized struct points at itself
        return
    start = len(out)
    put_word(out, at, struct_pointer((start - at - 8) // 8, len(data) // 8, len(pointers)))
    out += data + bytes(8 * len(pointers))
    for i, pointer in enumerate(pointers):
        write_pointer(out, start + len(data) + 8 * i, pointer)


def write_struct_list(out, at, elements):
    cut = [truncated(element) for element in elements]
    data_words = max([len(data) // 8 for data, _ in cut], default=0)
    pointer_count = max([len(pointers) for _, pointers in cut], default=0)
    words = len(elements) * (data_words + pointer_count)
    put_word(out, at, list_pointer((len(out) - at - 8) // 8, 7, words))
    out += struct_pointer(len(elements), data_words, pointer_count).to_bytes(8, "little")  # the tag word
    start = len(out)
    out += bytes(8 * words)
    for i, element in enumerate(elements):
        base = start + 8 * i * (data_words + pointer_count)
        out[base:base + 8 * data_words] = bytes(element.data[:8 * data_words]).ljust(8 * data_words, b"\0")
    for i, element in enumerate(elements):
        base = start + 8 * i * (data_words + pointer_count) + 8 * data_words
        for j, pointer in enumerate(element.pointers[:pointer_count]):
            write_pointer(out, base + 8 * j, pointer)


# ---------------------------------------------------------------------------------------------------------------
# Ed25519 verification (RFC 8032 §5.1.7, pure Ed25519), after the RFC's own Python in §6. Slow but small; it
# handles public data only, so constant time does not matter. Like libsodium it also refuses small-order keys.
# ---------------------------------------------------------------------------------------------------------------

P = 2 ** 255 - 19
L = 2 ** 252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)
IDENTITY = (0, 1, 1, 0)


def point_add(a, b):
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    pa, pb = (y1 - x1) * (y2 - x2) % P, (y1 + x1) * (y2 + x2) % P
    pc, pd = t1 * 2 * D * t2 % P, z1 * 2 * z2 % P
    e, f, g, h = pb - pa, pd - pc, pd + pc, pb + pa
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def point_mul(scalar, point):
    result = IDENTITY
    while scalar > 0:
        if scalar & 1:
            result = point_add(result, point)
        point = point_add(point, point)
        scalar >>= 1
    return result


def point_equal(a, b):
    return (a[0] * b[2] - b[0] * a[2]) % P == 0 and (a[1] * b[2] - b[1] * a[2]) % P == 0


def recover_x(y, sign):
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P != 0:
        return None
    return P - x if (x & 1) != sign else x


def point_decompress(encoded):
    y = int.from_bytes(encoded, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = recover_x(y, sign)
    return None if x is None else (x, y, 1, x * y % P)


BASE_Y = 4 * pow(5, P - 2, P) % P
BASE = (recover_x(BASE_Y, 0), BASE_Y, 1, recover_x(BASE_Y, 0) * BASE_Y % P)


def ed25519_verify(public_key, message, signature):
    if len(public_key) != 32 or len(signature) != 64:
        return False
    a = point_decompress(public_key)
    r = point_decompress(signature[:32])
    s = int.from_bytes(signature[32:], "little")
    if a is None or r is None or s >= L:
        return False
    if point_equal(point_mul(8, a), IDENTITY) or point_equal(point_mul(8, r), IDENTITY):
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public_key + message).digest(), "little") % L
    return point_equal(point_mul(s, BASE), point_add(r, point_mul(h, a)))


# ---------------------------------------------------------------------------------------------------------------
# Merkle tree (RFC 6962 §2.1; proofs RFC 9162 §2.1.3.2, §2.1.4.2)
# ---------------------------------------------------------------------------------------------------------------


def sha256(data):
    return hashlib.sha256(data).digest()


def leaf_hash(data):
    return sha256(b"\x00" + data)


def node_hash(left, right):
    return sha256(b"\x01" + left + right)


class Frontier:
    """The roots of the perfect subtrees of the tree so far, largest first: O(log n) memory."""

    def __init__(self):
        self.size = 0
        self.subtrees = []  # (leaves, hash)

    def append(self, leaf):
        self.size += 1
        self.subtrees.append((1, leaf))
        while len(self.subtrees) > 1 and self.subtrees[-1][0] == self.subtrees[-2][0]:
            (size, right), (_, left) = self.subtrees.pop(), self.subtrees.pop()
            self.subtrees.append((2 * size, node_hash(left, right)))

    def root(self):
        if not self.subtrees:
            return sha256(b"")
        root = self.subtrees[-1][1]
        for _, left in reversed(self.subtrees[:-1]):
            root = node_hash(left, root)
        return root


def root_from_inclusion(leaf, index, tree_size, path):
    """RFC 9162 §2.1.3.2; None if the path has the wrong length for (index, tree_size)."""
    if index >= tree_size:
        return None
    fn, sn, result = index, tree_size - 1, leaf
    for sibling in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            result = node_hash(result, sibling)
        fn, sn = fn >> 1, sn >> 1
    return result if sn == 0 else None


def verify_consistency(first, second, first_root, second_root, path):
    """RFC 9162 §2.1.4.2, with its edge cases: equal sizes or an empty first tree need an empty path."""
    if first > second:
        return False
    if first == second:
        return not path and first_root == second_root
    if first == 0:
        return not path and first_root == sha256(b"")
    if not path:
        return False
    if first & (first - 1) == 0:
        path = [first_root] + path
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == first_root and sr == second_root


# ---------------------------------------------------------------------------------------------------------------
# Signed tree heads and the key chain (docs/audit.md §3, §4)
# ---------------------------------------------------------------------------------------------------------------

HEX = {32: re.compile(r"[0-9a-f]{64}"), 64: re.compile(r"[0-9a-f]{128}"), 8: re.compile(r"[0-9a-f]{16}")}


def hex_bytes(data, name, size):
    value = data.get(name)
    if not isinstance(value, str) or not HEX[size].fullmatch(value):
        raise Refused("%s is not %d lowercase hex chars" % (name, 2 * size), "data." + name)
    return bytes.fromhex(value)


def key_id(public_key):
    return sha256(public_key)[:8].hex()


class TreeHead:
    def __init__(self, position, tree_size, root, key, previous_key=None):
        self.position = position
        self.tree_size = tree_size
        self.root = root
        self.key = key                    # checkpoint: its key; rotation: the new key
        self.previous_key = previous_key  # rotation: the old key


def check_signature(key, statement, signature, what):
    if not ed25519_verify(key, statement.encode("ascii"), signature):
        raise Refused("the signature of %s %s does not verify" % (what, key_id(key)), "data.signature")


def tree_head(line):
    """Decodes a checkpoint_signed or signing_key_rotated line and checks its key ids and signatures."""
    data, position = line["data"], line["position"]
    tree_size, root = data["tree_size"], hex_bytes(data, "root_hash", 32)
    if line["type"] == "checkpoint_signed":
        key = hex_bytes(data, "public_key", 32)
        if data["key_id"] != key_id(key):
            raise Refused("key_id is not the id of public_key", "data.key_id")
        statement = "di-ledger checkpoint v1\n%d\n%s\n" % (tree_size, root.hex())
        check_signature(key, statement, hex_bytes(data, "signature", 64), "key")
        return TreeHead(position, tree_size, root, key)
    old, new = hex_bytes(data, "old_public_key", 32), hex_bytes(data, "new_public_key", 32)
    for name, key in (("old_key_id", old), ("new_key_id", new)):
        if data[name] != key_id(key):
            raise Refused("%s is not the id of %s" % (name, name.replace("key_id", "public_key")), "data." + name)
    if old == new:
        raise Refused("the new key is the old key", "data.new_public_key")
    statement = "di-ledger key rotation v1\n%d\n%s\n%s\n%s\n" % (tree_size, root.hex(), old.hex(), new.hex())
    check_signature(old, statement, hex_bytes(data, "old_key_signature", 64), "the old key")
    check_signature(new, statement, hex_bytes(data, "new_key_signature", 64), "the new key")
    return TreeHead(position, tree_size, root, new, old)


class KeyChain:
    """k0 -> k1 -> ...: the first signed head starts it; checkpoints by the current key; rotations away from it."""

    def __init__(self):
        self.keys = []

    def add(self, head):
        if head.previous_key is None:
            if self.keys and head.key != self.keys[-1]:
                raise Refused("signed by key %s but the current signing key is %s (a new key must be introduced "
                              "by a signing_key_rotated event)" % (key_id(head.key), key_id(self.keys[-1])))
            if not self.keys:
                self.keys.append(head.key)
            return
        if not self.keys:
            self.keys.append(head.previous_key)
        if head.previous_key != self.keys[-1]:
            raise Refused("rotates away from key %s but the current signing key is %s" %
                          (key_id(head.previous_key), key_id(self.keys[-1])))
        if head.key in self.keys:
            raise Refused("rotates to key %s, which this log has used before" % key_id(head.key))
        self.keys.append(head.key)

    def ids(self):
        return " -> ".join(key_id(key) for key in self.keys)


AUDIT_TYPES = ("checkpoint_signed", "signing_key_rotated")


# ---------------------------------------------------------------------------------------------------------------
# Export verification (docs/audit.md §5)
# ---------------------------------------------------------------------------------------------------------------


class Failure(Exception):
    def __init__(self, position, line_number, reason):
        super().__init__(reason)
        self.position = position
        self.line_number = line_number
        self.reason = reason


class ExportVerifier:
    def __init__(self, encoder, trusted_key):
        self.encoder = encoder
        self.trusted_key = trusted_key
        self.previous = bytes(32)
        self.frontier = Frontier()
        self.chain = KeyChain()
        self.checkpoints = 0
        self.rotations = 0
        self.last_signed = 0
        self.first_signed_position = 0

    def line(self, text, line_number):
        expected = self.frontier.size + 1
        try:
            self.check_line(parse_json(text), expected)
        except Refused as refused:
            raise Failure(expected, line_number, str(refused))

    def check_line(self, line, expected):
        if not isinstance(line, dict):
            raise Refused("an exported event must be a JSON object")
        check_envelope_keys(line)
        if type(line.get("position")) is not int or line["position"] != expected:
            raise Refused("the line holds position %s; expected %d (an export to verify starts at position 1 and "
                          "has no holes)" % (json.dumps(line.get("position")), expected), "position")
        data = write_canonical(self.encoder.recorded_event(line))
        stated = line.get("hash")
        if not isinstance(stated, str) or not HEX[32].fullmatch(stated):
            raise Refused("must be 64 lowercase hex chars", "hash")
        computed = sha256(self.previous + data)
        if computed.hex() != stated:
            raise Refused("hash mismatch: the line says %s, its content and the hash before it give %s (this event, "
                          "or the hash of the one before, was altered)" % (stated, computed.hex()))
        if line["type"] in AUDIT_TYPES:
            self.check_tree_head(line)
        self.frontier.append(leaf_hash(data))
        self.previous = computed

    def check_tree_head(self, line):
        head = tree_head(line)
        if head.tree_size != self.frontier.size:
            raise Refused("%s covers %d events but %d precede it" % (line["type"], head.tree_size, self.frontier.size))
        if head.root != self.frontier.root():
            raise Refused("%s: the signed root %s is not the root of events 1..%d (%s): an event before it was "
                          "altered and the chain rehashed" % (line["type"], head.root.hex(), self.frontier.size,
                                                              self.frontier.root().hex()))
        self.chain.add(head)
        self.first_signed_position = self.first_signed_position or head.position
        self.checkpoints += head.previous_key is None
        self.rotations += head.previous_key is not None
        self.last_signed = head.tree_size

    def finish(self, line_number):
        if self.frontier.size == 0:
            raise Failure(1, line_number, "the export holds no events")
        if not self.chain.keys:
            raise Failure(self.frontier.size, line_number, "no checkpoint_signed event: nothing in the export is signed")
        if self.trusted_key not in self.chain.keys:
            raise Failure(self.first_signed_position, line_number,
                          "the export is signed by key(s) %s, not by the given key %s nor by a key it rotated to or "
                          "from" % (self.chain.ids(), key_id(self.trusted_key)))


def verify_export(path, verifier):
    line_number = 0
    try:
        with (sys.stdin if path == "-" else open(path, encoding="utf-8", errors="strict")) as file:
            for line_number, text in enumerate(file, start=1):
                if text.strip(" \t\r\n"):
                    verifier.line(text, line_number)
    except UnicodeDecodeError:
        raise Failure(verifier.frontier.size + 1, line_number + 1, "the line is not UTF-8")
    verifier.finish(line_number)


def report_export(path, encoder, trusted_key):
    verifier = ExportVerifier(encoder, trusted_key)
    try:
        verify_export(path, verifier)
    except Failure as failure:
        print("FAILED at position %d (%s line %d): %s" % (failure.position, path, failure.line_number, failure.reason))
        print("%d events verified before the failure" % verifier.frontier.size)
        return 1
    size = verifier.frontier.size
    print("OK: %d events: hash chain and Merkle tree verified" % size)
    print("%d checkpoints and %d key rotations signed by key %s; the given key %s is in that chain" %
          (verifier.checkpoints, verifier.rotations, verifier.chain.ids(), key_id(trusted_key)))
    unsigned = "" if size <= verifier.last_signed + 1 else (
        "; positions %d..%d are chained but not yet covered by a checkpoint" % (verifier.last_signed + 2, size))
    print("signed up to position %d%s" % (verifier.last_signed, unsigned))
    print("head hash %s" % verifier.previous.hex())
    print("merkle root %s" % verifier.frontier.root().hex())
    return 0


# ---------------------------------------------------------------------------------------------------------------
# Proofs (docs/audit.md §6)
# ---------------------------------------------------------------------------------------------------------------


def proof_array(proof, name, default=None):
    value = proof.get(name, default)
    if not isinstance(value, list):
        raise Refused("is missing or not an array", name)
    return value


def proof_event(encoder, line, name):
    """An embedded export line: its canonical bytes. Its `hash` needs the event before it: not checked here."""
    if not isinstance(line, dict):
        raise Refused("is missing or not an object", name)
    try:
        check_envelope_keys(line)
        return write_canonical(encoder.recorded_event(line))
    except Refused as refused:
        raise Refused(str(refused), name)


def proof_head(encoder, line, name, types=("checkpoint_signed",)):
    proof_event(encoder, line, name)
    if line["type"] not in types:
        raise Refused("is a %s, not a %s" % (line["type"], " or ".join(types)), name)
    try:
        head = tree_head(line)
    except Refused as refused:
        raise Refused("position %d: %s" % (line["position"], refused), name)
    if head.tree_size + 1 != line["position"]:
        raise Refused("covers %d events but stands at position %d" % (head.tree_size, line["position"]), name)
    return head


def proof_path(proof, name):
    path = proof_array(proof, name)
    if len(path) > 64 or not all(isinstance(h, str) and HEX[32].fullmatch(h) for h in path):
        raise Refused("must be at most 64 hashes of 64 lowercase hex chars", name)
    return [bytes.fromhex(h) for h in path]


def stated(proof, name, value):
    """The informative members must agree with what the checker derives itself."""
    if name in proof and (type(proof[name]) is not type(value) or proof[name] != value):
        raise Refused("says %s, but the embedded events give %s" % (json.dumps(proof[name]), json.dumps(value)), name)


def check_key_chain(encoder, proof, heads, trusted_key):
    rotations = proof_array(proof, "key_rotations", [])  # none: a log that never rotated its key
    for i, rotation in enumerate(rotations):
        heads.append(proof_head(encoder, rotation, "key_rotations[%d]" % i, ("signing_key_rotated",)))
    chain = KeyChain()
    for head in sorted(heads, key=lambda head: head.position):
        try:
            chain.add(head)
        except Refused as refused:
            raise Refused("position %d: %s" % (head.position, refused), "key_rotations")
    if trusted_key not in chain.keys:
        raise Refused("the checkpoint is signed by key %s, which is not the given key %s nor connected to it by the "
                      "key rotations in the proof" % (key_id(chain.keys[-1]), key_id(trusted_key)))


def check_inclusion(encoder, proof, trusted_key):
    line = proof.get("event")
    data = proof_event(encoder, line, "event")
    head = proof_head(encoder, proof.get("checkpoint"), "checkpoint")
    leaf, index = leaf_hash(data), line["position"] - 1
    stated(proof, "leaf_index", index)
    stated(proof, "tree_size", head.tree_size)
    stated(proof, "leaf_hash", leaf.hex())
    root = root_from_inclusion(leaf, index, head.tree_size, proof_path(proof, "audit_path"))
    if root is None:
        raise Refused("the audit path has the wrong length for position %d in a tree of %d (or the event is not "
                      "covered by this checkpoint)" % (line["position"], head.tree_size), "audit_path")
    if root != head.root:
        raise Refused("the event and the audit path lead to root %s, but the checkpoint signed %s: the event is not "
                      "the one recorded at position %d" % (root.hex(), head.root.hex(), line["position"]))
    check_key_chain(encoder, proof, [head], trusted_key)
    return ("event '%s' at position %d is included in the checkpoint at position %d (tree size %d, root %s), signed "
            "by key %s" % (line["id"], line["position"], head.position, head.tree_size, head.root.hex(),
                           key_id(head.key)))


def check_consistency(encoder, proof, trusted_key):
    first = proof_head(encoder, proof.get("first_checkpoint"), "first_checkpoint")
    second = proof_head(encoder, proof.get("second_checkpoint"), "second_checkpoint")
    stated(proof, "first_tree_size", first.tree_size)
    stated(proof, "second_tree_size", second.tree_size)
    if not verify_consistency(first.tree_size, second.tree_size, first.root, second.root,
                              proof_path(proof, "consistency_path")):
        raise Refused("the tree of %d events (root %s) is not a prefix of the tree of %d events (root %s) by this "
                      "proof: history before position %d was changed, or the proof is damaged" %
                      (first.tree_size, first.root.hex(), second.tree_size, second.root.hex(), first.position))
    check_key_chain(encoder, proof, [first, second], trusted_key)
    return ("the checkpoint at position %d (tree size %d) is a prefix of the checkpoint at position %d (tree size "
            "%d): nothing recorded before it was changed" % (first.position, first.tree_size, second.position,
                                                            second.tree_size))


PROOF_CHECKS = {"di-ledger-inclusion-proof/1": ("inclusion", check_inclusion),
                "di-ledger-consistency-proof/1": ("consistency", check_consistency)}


def report_proof(path, encoder, trusted_key):
    kind = "unknown"
    try:
        with open(path, encoding="utf-8") as file:
            proof = parse_json(file.read())
        if not isinstance(proof, dict) or proof.get("format") not in PROOF_CHECKS:
            raise Refused("not a di-ledger proof (format must be one of: %s)" % ", ".join(PROOF_CHECKS), "format")
        kind, check = PROOF_CHECKS[proof["format"]]
        summary = check(encoder, proof, trusted_key)
    except Refused as refused:
        print("FAILED (%s, %s proof): %s" % (path, kind, refused))
        return 1
    print("OK (%s): %s" % (path, summary))
    return 0


# ---------------------------------------------------------------------------------------------------------------
# Self-test: published test vectors, so an auditor can check the checker's primitives.
# ---------------------------------------------------------------------------------------------------------------

RFC8032_VECTORS = [  # (public key, message, signature): RFC 8032 §7.1 TEST 1, 2, 3
    ("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe"
     "24655141438e7a100b"),
    ("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302a"
     "eeb00d291612bb0c00"),
    ("fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed2"
     "8dc027beceea1ec40a"),
]

JCS_VECTORS = [  # (document, canonical form): RFC 8785 §3.2.3 key order, §3.2.2.2 string escapes
    ({"\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With Dagesh", "1": "One",
      "\U0001f600": "Emoji: Grinning Face", "\u0080": "Control", "\u00f6": "Latin Small Letter O With Diaeresis"},
     '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",'
     '"\u20ac":"Euro Sign","\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'),
    ({"s": "\u20ac$\u000f\nA'B\"\\\\\"/", "n": [0, -1, 9007199254740991, None, True, False]},
     '{"n":[0,-1,9007199254740991,null,true,false],"s":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'),
]


def self_test():
    failures = []
    for public, message, signature in RFC8032_VECTORS:
        if not ed25519_verify(bytes.fromhex(public), bytes.fromhex(message), bytes.fromhex(signature)):
            failures.append("RFC 8032 vector %s... does not verify" % public[:8])
        if ed25519_verify(bytes.fromhex(public), bytes.fromhex(message) + b"x", bytes.fromhex(signature)):
            failures.append("RFC 8032 vector %s... verifies a different message" % public[:8])
    if Frontier().root().hex() != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855":
        failures.append("the empty Merkle root is not SHA-256 of nothing")
    for document, expected in JCS_VECTORS:
        if jcs(document, "") != expected:
            failures.append("RFC 8785: %r gives %r" % (expected, jcs(document, "")))
    for failure in failures:
        print("SELF-TEST FAILED: " + failure)
    if not failures:
        print("OK: self-test (RFC 8032 Ed25519, RFC 6962 empty root, RFC 8785 key order and escapes)")
    return 1 if failures else 0


# ---------------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------------

DEFAULT_SCHEMA = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ledger", "schema",
                                               "events.capnp"))


def parse_arguments(argv):
    parser = argparse.ArgumentParser(
        description="Verify a di-ledger export (`di-ledger export`) or proof files (`di-ledger audit prove`) without "
                    "the ledger's code: docs/audit.md, section 'Verifying without our code'.",
        epilog="Exit code: 0 verified, 1 a check failed (position, line and reason printed), 2 usage or I/O error.")
    parser.add_argument("export", nargs="?", help="the export, JSON Lines from position 1 ('-': standard input)")
    parser.add_argument("--pubkey", help="the trusted Ed25519 public key: 64 hex chars, or a .pub file holding them")
    parser.add_argument("--proof", nargs="+", metavar="PROOF", help="check these proof files instead of an export")
    parser.add_argument("--schema", default=DEFAULT_SCHEMA, help="events.capnp (default: %(default)s)")
    parser.add_argument("--layout", action="store_true", help="print the struct layout computed from the schema")
    parser.add_argument("--self-test", action="store_true", help="check the primitives against published vectors")
    arguments = parser.parse_args(argv)
    if not (arguments.layout or arguments.self_test) and (arguments.export is None) == (arguments.proof is None):
        parser.error("give an export file or --proof files (one of the two)")
    if (arguments.export or arguments.proof) and not arguments.pubkey:
        parser.error("--pubkey is required: the key the auditor trusts")
    return arguments


def load_public_key(text):
    if not HEX[32].fullmatch(text):
        try:
            with open(text, encoding="ascii") as file:
                text = file.read(200).strip()
        except (OSError, UnicodeDecodeError):
            raise Refused("'%s' is neither 64 hex chars nor a readable public key file" % text, "--pubkey")
    if not HEX[32].fullmatch(text):
        raise Refused("does not hold a public key (64 lowercase hex chars)", "--pubkey")
    return bytes.fromhex(text)


def main(argv):
    arguments = parse_arguments(argv)
    if arguments.self_test:
        return self_test()
    try:
        enums, structs = load_schema(arguments.schema)
        if arguments.layout:
            print("\n".join(layout_lines(structs)))
            return 0
        encoder, key = Encoder(enums, structs), load_public_key(arguments.pubkey)
        if arguments.proof:
            return max(report_proof(path, encoder, key) for path in arguments.proof)
        return report_export(arguments.export, encoder, key)
    except Refused as refused:
        print("error: %s" % refused, file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader of the output went away (`| head -1`): nothing more to say, and nothing to say it to.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 2
    except OSError as error:
        print("error: %s" % error, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
