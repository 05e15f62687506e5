// VitrineTensor
