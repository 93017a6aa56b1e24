; Definitions common to JavaScript and TypeScript (TSX included), for bosun's structural
; annotations. javascript.scm or typescript.scm is appended to this file.
;
; Captures: @def.<kind> is the definition's node, @name its name, @body the part that is not
; signature (a function's block or an arrow function's expression, a class's members, a
; constant's value). A function inside a class becomes a method. @exported is a top-level
; name exported by an `export { … }` clause or `export default name`.

(function_declaration name: (identifier) @name body: (statement_block) @body) @def.function
(generator_function_declaration name: (identifier) @name body: (statement_block) @body) @def.function
(class_declaration name: (_) @name body: (class_body) @body) @def.class
(method_definition name: (_) @name body: (statement_block) @body) @def.function

; `const handler = (req) => …` and `const load = function () { … }`, at any depth.
(variable_declarator
  name: (identifier) @name
  value: [
    (arrow_function body: (_) @body)
    (function_expression body: (_) @body)
  ]) @def.function

; Top-level constants and variables (functions among them are caught above: the earlier
; pattern wins for the same node).
(program (lexical_declaration (variable_declarator name: (identifier) @name value: (_) @body) @def.const))
(program (variable_declaration (variable_declarator name: (identifier) @name value: (_) @body) @def.const))
(program
  (export_statement
    declaration: (lexical_declaration
      (variable_declarator name: (identifier) @name value: (_) @body) @def.const)))

(program (export_statement (export_clause (export_specifier name: (identifier) @exported))))
(program (export_statement value: (identifier) @exported))
