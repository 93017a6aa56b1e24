; Definitions in Go source, for bosun's structural annotations.
;
; Captures: @def.<kind> is the definition's node, @name its name, @body the part that is not
; signature (a function's block, a constant's or variable's value), @receiver a method's receiver list.
; Struct and interface types have no @body: their fields and methods are their signature
; (unexported struct fields are left out of it in code).

(function_declaration name: (identifier) @name body: (block) @body) @def.function
(function_declaration name: (identifier) @name !body) @def.function
(method_declaration receiver: (parameter_list) @receiver name: (field_identifier) @name body: (block) @body) @def.method
(method_declaration receiver: (parameter_list) @receiver name: (field_identifier) @name !body) @def.method

(type_spec name: (type_identifier) @name type: (struct_type)) @def.struct
(type_spec name: (type_identifier) @name type: (interface_type)) @def.interface
(type_spec name: (type_identifier) @name) @def.type
(type_alias name: (type_identifier) @name) @def.type

(source_file (const_declaration (const_spec name: (identifier) @name value: (_) @body) @def.const))
(source_file (const_declaration (const_spec name: (identifier) @name !value) @def.const))
(source_file (var_declaration (var_spec name: (identifier) @name value: (_) @body) @def.const))
(source_file (var_declaration (var_spec name: (identifier) @name !value) @def.const))
(source_file (var_declaration (var_spec_list (var_spec name: (identifier) @name value: (_) @body) @def.const)))
(source_file (var_declaration (var_spec_list (var_spec name: (identifier) @name !value) @def.const)))
