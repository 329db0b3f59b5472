// Kite's own Thrift IDL for its tests: every type, optional fields, nested structs and
// containers, declared exceptions, void and oneway methods.
namespace py kitetest

exception NotFound {
  1: string what
  2: i32 code
}

exception Invalid {
  1: string reason
}

struct Inner {
  1: string name
  2: optional i32 size
}

struct Everything {
  1: bool flag
  2: i8 small
  3: i16 shortNumber
  4: i32 number
  5: i64 big
  6: double ratio
  7: string text
  8: binary data
  9: list<i32> numbers
  10: set<string> tags
  11: map<string, i64> counts
  12: Inner inner
  13: list<Inner> inners
  14: optional string note
  15: map<i32, list<string>> nested
  16: bool off
}

service TestService {
  Everything Echo(1: Everything value)
  i64 Add(1: i64 a, 2: i64 b)
  string Find(1: string key) throws (1: NotFound notFound, 2: Invalid invalid)
  void Ping()
  oneway void Fire(1: string note)
}
