; TypeScript-only definitions (appended to ecmascript.scm; the TSX grammar uses it too).
;
; Interfaces, type aliases and enums have no @body: their members are their signature, so a
; changed member is a changed signature.

(public_field_definition
  name: (_) @name
  value: [
    (arrow_function body: (_) @body)
    (function_expression body: (_) @body)
  ]) @def.function

(function_signature name: (identifier) @name) @def.function
(abstract_class_declaration name: (_) @name body: (class_body) @body) @def.class
(abstract_method_signature name: (_) @name) @def.function

(interface_declaration name: (_) @name) @def.interface
(type_alias_declaration name: (_) @name) @def.type
(enum_declaration name: (_) @name) @def.enum

; `namespace Shapes { … }` and `declare module "x" { … }`.
(internal_module name: (_) @name body: (statement_block) @body) @def.module
(module name: (_) @name body: (statement_block) @body) @def.module
