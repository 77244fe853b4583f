# A probe for tools/verify_export.py's layout rule (docs/audit.md §1.2), checked against the Cap'n Proto compiler
# by tests/verify_export_test.sh: fields of every size that must fill padding left by earlier ones, a default
# value, and a union of pointers whose tag is placed when its second member is.
@0xd1b0a8f0e5c4b3a2;

enum Colour {
  red @0;
  green @1;
}

struct Packed {
  flag @0 :Bool;
  wide @1 :Int64;
  half @2 :UInt16;
  byte @3 :UInt8;
  second @4 :Bool;
  word @5 :Int32;
  late @6 :UInt8;
  colour @7 :Colour;
  name @8 :Text;
  fallback @9 :Int32 = -2147483648;
  tags @10 :List(Text);
}

struct Choice {
  first @0 :UInt8;
  kind :union {
    text @1 :Text;
    packed @3 :Packed;
    list @4 :List(Colour);
  }
  after @2 :UInt16;
  last @5 :Bool;
}
